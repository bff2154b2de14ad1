// Builds /dev/vigil records the way vigil.ko writes them (vigil.h, ABI 1).
// Used by tests (hand-built and property-based streams) and for fixtures.

import {
  DRIVER_EVENT_BY_ID,
  type DriverFieldType,
  VIGIL_ABI_VERSION,
  VIGIL_ADDR_SIZE,
  VIGIL_HDR_SIZE,
  VIGIL_MAGIC,
} from "./event-table.gen";

export interface EncodeHeader {
  seq?: bigint;
  tsRealNs?: bigint;
  tsMonoNs?: bigint;
  pid?: number;
  tgid?: number;
  ppid?: number;
  uid?: number;
  euid?: number;
  gid?: number;
  sid?: number;
  pidnsInum?: number;
  cgroupId?: bigint;
  comm?: string;
  /** Overrides for malformed-record tests. */
  version?: number;
  hdrSize?: number;
  nfields?: number;
  size?: number;
}

export interface EncodeAddress {
  family: number;
  port: number;
  /** 4 or 16 bytes, network order. */
  addr: number[];
}

export type EncodeValue = number | bigint | string | string[] | Uint8Array | EncodeAddress;

/** Encodes one record of `type` with `fields` by name (missing ones are zero / empty). */
export function encodeRecord(
  type: number,
  fields: Record<string, EncodeValue>,
  header: EncodeHeader = {},
): Uint8Array {
  const def = DRIVER_EVENT_BY_ID.get(type);
  const parts: Uint8Array[] = [];
  for (const field of def?.fields ?? []) parts.push(encodeField(field.type, fields[field.name]));
  const hdrSize = header.hdrSize ?? VIGIL_HDR_SIZE;
  const body = concatAll(parts);
  const size = header.size ?? hdrSize + body.length;
  const out = new Uint8Array(hdrSize + body.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, VIGIL_MAGIC, true);
  view.setUint16(4, header.version ?? VIGIL_ABI_VERSION, true);
  view.setUint16(6, type, true);
  view.setUint32(8, size, true);
  view.setUint16(12, hdrSize, true);
  view.setUint16(14, header.nfields ?? def?.fields.length ?? 0, true);
  view.setBigUint64(16, header.seq ?? 0n, true);
  view.setBigUint64(24, header.tsRealNs ?? 0n, true);
  view.setBigUint64(32, header.tsMonoNs ?? 0n, true);
  view.setUint32(40, header.pid ?? 0, true);
  view.setUint32(44, header.tgid ?? header.pid ?? 0, true);
  view.setUint32(48, header.ppid ?? 0, true);
  view.setUint32(52, header.uid ?? 0, true);
  view.setUint32(56, header.euid ?? 0, true);
  view.setUint32(60, header.gid ?? 0, true);
  view.setUint32(64, header.sid ?? 0, true);
  view.setUint32(68, header.pidnsInum ?? 0, true);
  view.setBigUint64(72, header.cgroupId ?? 0n, true);
  out.set(new TextEncoder().encode(header.comm ?? "").subarray(0, 15), 80);
  out.set(body, hdrSize);
  return out;
}

function encodeField(type: DriverFieldType, value: EncodeValue | undefined): Uint8Array {
  const n = (bytes: number, write: (v: DataView) => void): Uint8Array => {
    const out = new Uint8Array(bytes);
    write(new DataView(out.buffer));
    return out;
  };
  const asNumber = typeof value === "number" ? value : typeof value === "bigint" ? Number(value) : 0;
  const asBig = typeof value === "bigint" ? value : BigInt(asNumber);
  switch (type) {
    case "U8":
      return n(1, (v) => v.setUint8(0, asNumber));
    case "U16":
      return n(2, (v) => v.setUint16(0, asNumber, true));
    case "U32":
      return n(4, (v) => v.setUint32(0, asNumber, true));
    case "S32":
      return n(4, (v) => v.setInt32(0, asNumber, true));
    case "U64":
      return n(8, (v) => v.setBigUint64(0, asBig, true));
    case "S64":
      return n(8, (v) => v.setBigInt64(0, asBig, true));
    case "STR": {
      const bytes = new TextEncoder().encode(typeof value === "string" ? value : "");
      return concatAll([n(2, (v) => v.setUint16(0, bytes.length, true)), bytes]);
    }
    case "BLOB":
    case "ARGS": {
      let bytes: Uint8Array;
      if (value instanceof Uint8Array) bytes = value;
      else if (Array.isArray(value)) bytes = new TextEncoder().encode(value.map((a) => `${a}\0`).join(""));
      else bytes = new Uint8Array(0);
      return concatAll([n(4, (v) => v.setUint32(0, bytes.length, true)), bytes]);
    }
    case "ADDR": {
      const out = new Uint8Array(VIGIL_ADDR_SIZE);
      if (value !== undefined && typeof value === "object" && "family" in value) {
        const view = new DataView(out.buffer);
        view.setUint16(0, value.family, true);
        view.setUint16(2, value.port, true);
        out.set(value.addr.slice(0, 16), 4);
      }
      return out;
    }
  }
}

export function concatAll(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, p) => sum + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
