// Decodes the byte stream read from /dev/vigil (vigil.ko) into records, per
// driver/include/uapi/vigil.h (ABI 1): a 96-byte little-endian header, then
// the fields of the record's type in events.def order, each encoded by its
// type without a tag. The field table is event-table.gen.ts, generated from
// driver/events.def.
//
// The stream is hostile input (a buggy or replaced module, a corrupted
// capture): every record is validated (magic, version, sizes, every field
// inside the record), a bad one is counted and skipped, and the decoder
// resynchronises by scanning forward for the next valid header. push() never
// throws; a record split across reads is kept until the rest arrives.

import {
  DRIVER_EVENT_BY_ID,
  type DriverEventDef,
  type DriverFieldType,
  VIGIL_ABI_VERSION,
  VIGIL_ADDR_SIZE,
  VIGIL_COMM_LEN,
  VIGIL_HDR_SIZE,
  VIGIL_MAGIC,
  VIGIL_MAX_RECORD,
} from "./event-table.gen";

const AF_INET = 2;
const AF_INET6 = 10;
const MAGIC_BYTES = [
  VIGIL_MAGIC & 0xff,
  (VIGIL_MAGIC >>> 8) & 0xff,
  (VIGIL_MAGIC >>> 16) & 0xff,
  VIGIL_MAGIC >>> 24,
];

/** The task context every record carries (struct vigil_hdr). */
export interface DriverRecordHeader {
  version: number;
  type: number;
  size: number;
  hdrSize: number;
  nfields: number;
  seq: bigint;
  tsRealNs: bigint;
  tsMonoNs: bigint;
  /** Thread id (task->pid) in the init pid namespace. */
  pid: number;
  /** Process id (task->tgid). */
  tgid: number;
  ppid: number;
  uid: number;
  euid: number;
  gid: number;
  sid: number;
  pidnsInum: number;
  cgroupId: bigint;
  comm: string;
}

/** struct vigil_addr: family 0 means "no address". */
export interface DriverAddress {
  family: number;
  port: number;
  /** Dotted IPv4 / RFC 5952-ish IPv6 text; "" when family is 0 or unknown. */
  ip: string;
}

export type DriverFieldValue = number | bigint | string | string[] | Uint8Array | DriverAddress;

export interface DriverRecord {
  header: DriverRecordHeader;
  /** The event definition from events.def. */
  def: DriverEventDef;
  /** Fields by their events.def name. Trailing fields an older module did not send are absent. */
  fields: Record<string, DriverFieldValue>;
  /** Byte offset of the record in the whole stream (for diagnostics). */
  offset: number;
}

export interface DriverDecoderCounters {
  /** Bytes given to push(). */
  bytes: number;
  /** Well-formed records of a known type returned. */
  records: number;
  /** Well-formed records of a type this agent does not know: skipped by their size. */
  unknownType: number;
  /** Headers with a version this agent does not know. */
  badVersion: number;
  /** Headers whose size / hdr_size are impossible (smaller than a header, larger than VIGIL_MAX_RECORD). */
  badSize: number;
  /** Records whose fields run past the record's size (or are otherwise malformed). */
  badFields: number;
  /** Bytes skipped while looking for the next valid header. */
  skippedBytes: number;
  /** Times the decoder lost sync and scanned for the next magic. */
  resyncs: number;
  /** Incomplete records left when the stream ended (finish()). */
  truncated: number;
  /** Decoder bugs caught by the safety net (should stay 0; the held bytes are dropped). */
  internal: number;
  /** Sum of the errors above: badVersion + badSize + badFields + truncated + resyncs + internal. */
  errors: number;
}

export class DriverRecordDecoder {
  readonly counters: DriverDecoderCounters = {
    bytes: 0,
    records: 0,
    unknownType: 0,
    badVersion: 0,
    badSize: 0,
    badFields: 0,
    skippedBytes: 0,
    resyncs: 0,
    truncated: 0,
    internal: 0,
    errors: 0,
  };
  private buffer: Uint8Array = new Uint8Array(0);
  /** Stream offset of buffer[0]. */
  private base = 0;
  /** True while skipping garbage: one resync is counted per run of garbage, not per byte. */
  private lost = false;

  /** Decodes every complete record in `chunk` (plus what was kept from earlier chunks). Never throws. */
  push(chunk: Uint8Array): DriverRecord[] {
    const out: DriverRecord[] = [];
    try {
      this.counters.bytes += chunk.length;
      const data = this.buffer.length === 0 ? chunk : concat(this.buffer, chunk);
      const consumed = this.decodeFrom(data, out);
      this.buffer = data.slice(consumed);
      this.base += consumed;
    } catch {
      // Not reachable by design (every read is bounds-checked); kept so a bug
      // here can never take the agent's read loop down. Drop what we hold.
      this.error("internal");
      this.base += this.buffer.length;
      this.buffer = new Uint8Array(0);
    }
    return out;
  }

  /**
   * The stream ended: a partial record still held is counted as truncated, and
   * the bytes after its start are scanned again (a corrupted size field must not
   * swallow the records behind it). Returns the records found there.
   */
  finish(): DriverRecord[] {
    const out: DriverRecord[] = [];
    try {
      this.decodeFrom(this.buffer, out, true);
    } catch {
      this.error("internal");
    }
    this.base += this.buffer.length;
    this.buffer = new Uint8Array(0);
    this.lost = false;
    return out;
  }

  /** Decodes a whole capture (e.g. stream.bin from the QEMU harness). */
  static decodeAll(data: Uint8Array): { records: DriverRecord[]; counters: DriverDecoderCounters } {
    const decoder = new DriverRecordDecoder();
    const records = decoder.push(data);
    records.push(...decoder.finish());
    return { records, counters: decoder.counters };
  }

  private error(kind: "badVersion" | "badSize" | "badFields" | "truncated" | "resyncs" | "internal"): void {
    this.counters[kind]++;
    this.counters.errors++;
  }

  /**
   * Returns how many bytes of `data` are consumed (the rest is an incomplete record, kept).
   * With `final` nothing more will come: an incomplete record is truncated and scanning goes on after its magic.
   */
  private decodeFrom(data: Uint8Array, out: DriverRecord[], final = false): number {
    const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    let pos = 0;
    while (pos < data.length) {
      if (!startsWithMagic(data, pos)) {
        const next = findMagic(data, pos + 1);
        // Keep up to 3 trailing bytes: they may be the start of a magic split across reads.
        const stop = next < 0 ? (final ? data.length : Math.max(pos, data.length - 3)) : next;
        if (stop > pos) {
          this.skip(stop - pos);
          pos = stop;
        }
        if (next < 0) return pos;
        continue;
      }
      if (data.length - pos < 16 || (data.length - pos < VIGIL_HDR_SIZE && final)) {
        if (!final) return pos; // need version/type/size/hdr_size
        this.error("truncated");
        this.skip(1);
        pos += 1;
        continue;
      }
      const version = view.getUint16(pos + 4, true);
      const size = view.getUint32(pos + 8, true);
      const hdrSize = view.getUint16(pos + 12, true);
      if (version !== VIGIL_ABI_VERSION) {
        this.error("badVersion");
        this.skip(1);
        pos += 1;
        continue;
      }
      if (hdrSize < VIGIL_HDR_SIZE || size < hdrSize || size > VIGIL_MAX_RECORD) {
        this.error("badSize");
        this.skip(1);
        pos += 1;
        continue;
      }
      if (data.length - pos < size) {
        if (!final) return pos; // wait for the rest
        this.error("truncated");
        this.skip(1);
        pos += 1;
        continue;
      }
      const record = this.decodeRecord(view, data, pos, size, hdrSize);
      if (record === "bad") {
        this.error("badFields");
        this.skip(1);
        pos += 1;
        continue;
      }
      this.lost = false;
      if (record === "unknown") this.counters.unknownType++;
      else {
        this.counters.records++;
        out.push(record);
      }
      pos += size;
    }
    return pos;
  }

  private skip(bytes: number): void {
    this.counters.skippedBytes += bytes;
    if (!this.lost) {
      this.lost = true;
      this.error("resyncs");
    }
  }

  private decodeRecord(
    view: DataView,
    data: Uint8Array,
    start: number,
    size: number,
    hdrSize: number,
  ): DriverRecord | "unknown" | "bad" {
    const header: DriverRecordHeader = {
      version: view.getUint16(start + 4, true),
      type: view.getUint16(start + 6, true),
      size,
      hdrSize,
      nfields: view.getUint16(start + 14, true),
      seq: view.getBigUint64(start + 16, true),
      tsRealNs: view.getBigUint64(start + 24, true),
      tsMonoNs: view.getBigUint64(start + 32, true),
      pid: view.getUint32(start + 40, true),
      tgid: view.getUint32(start + 44, true),
      ppid: view.getUint32(start + 48, true),
      uid: view.getUint32(start + 52, true),
      euid: view.getUint32(start + 56, true),
      gid: view.getUint32(start + 60, true),
      sid: view.getUint32(start + 64, true),
      pidnsInum: view.getUint32(start + 68, true),
      cgroupId: view.getBigUint64(start + 72, true),
      comm: cString(data.subarray(start + 80, start + 80 + VIGIL_COMM_LEN)),
    };
    const def = DRIVER_EVENT_BY_ID.get(header.type);
    if (def === undefined) return "unknown";
    const end = start + size;
    const fields: Record<string, DriverFieldValue> = {};
    const cursor = { pos: start + hdrSize };
    const count = Math.min(header.nfields, def.fields.length);
    for (let i = 0; i < count; i++) {
      const field = def.fields[i];
      if (field === undefined) break;
      const value = readField(view, data, cursor, end, field.type);
      if (value === undefined) return "bad";
      fields[field.name] = value;
    }
    // Fields beyond those we know (a newer module) are skipped: the record's size is authoritative.
    return { header, def, fields, offset: this.base + start };
  }
}

function readField(
  view: DataView,
  data: Uint8Array,
  cursor: { pos: number },
  end: number,
  type: DriverFieldType,
): DriverFieldValue | undefined {
  const at = cursor.pos;
  const need = (n: number): boolean => n >= 0 && at + n <= end;
  switch (type) {
    case "U8":
      if (!need(1)) return undefined;
      cursor.pos += 1;
      return view.getUint8(at);
    case "U16":
      if (!need(2)) return undefined;
      cursor.pos += 2;
      return view.getUint16(at, true);
    case "U32":
      if (!need(4)) return undefined;
      cursor.pos += 4;
      return view.getUint32(at, true);
    case "S32":
      if (!need(4)) return undefined;
      cursor.pos += 4;
      return view.getInt32(at, true);
    case "U64":
      if (!need(8)) return undefined;
      cursor.pos += 8;
      return view.getBigUint64(at, true);
    case "S64":
      if (!need(8)) return undefined;
      cursor.pos += 8;
      return view.getBigInt64(at, true);
    case "STR": {
      if (!need(2)) return undefined;
      const len = view.getUint16(at, true);
      if (!need(2 + len)) return undefined;
      cursor.pos += 2 + len;
      return utf8(data.subarray(at + 2, at + 2 + len));
    }
    case "BLOB":
    case "ARGS": {
      if (!need(4)) return undefined;
      const len = view.getUint32(at, true);
      if (!need(4 + len)) return undefined;
      cursor.pos += 4 + len;
      const bytes = data.subarray(at + 4, at + 4 + len);
      return type === "BLOB" ? bytes.slice() : splitArgs(bytes);
    }
    case "ADDR": {
      if (!need(VIGIL_ADDR_SIZE)) return undefined;
      cursor.pos += VIGIL_ADDR_SIZE;
      return readAddress(view, data, at);
    }
    default:
      return undefined;
  }
}

function readAddress(view: DataView, data: Uint8Array, at: number): DriverAddress {
  const family = view.getUint16(at, true);
  const port = view.getUint16(at + 2, true);
  const raw = data.subarray(at + 4, at + 20);
  let ip = "";
  if (family === AF_INET) ip = `${raw[0]}.${raw[1]}.${raw[2]}.${raw[3]}`;
  else if (family === AF_INET6) ip = ipv6Text(raw);
  return { family, port, ip };
}

/** RFC 5952 text: lower-case hex, the longest run (>= 2) of zero groups as "::", IPv4-mapped as ::ffff:a.b.c.d. */
export function ipv6Text(raw: Uint8Array): string {
  const groups: number[] = [];
  for (let i = 0; i < 8; i++) groups.push(((raw[2 * i] ?? 0) << 8) | (raw[2 * i + 1] ?? 0));
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return `::ffff:${raw[12]}.${raw[13]}.${raw[14]}.${raw[15]}`;
  }
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(":");
  return `${hex.slice(0, bestStart).join(":")}::${hex.slice(bestStart + bestLen).join(":")}`;
}

/** ARGS: NUL-terminated strings, the last one possibly cut (no NUL) at the bound. */
function splitArgs(bytes: Uint8Array): string[] {
  const args: string[] = [];
  let from = 0;
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] === 0) {
      args.push(utf8(bytes.subarray(from, i)));
      from = i + 1;
    }
  }
  if (from < bytes.length) args.push(utf8(bytes.subarray(from)));
  return args;
}

const decoder = new TextDecoder("utf-8", { fatal: false });

function utf8(bytes: Uint8Array): string {
  return decoder.decode(bytes);
}

function cString(bytes: Uint8Array): string {
  const nul = bytes.indexOf(0);
  return utf8(nul < 0 ? bytes : bytes.subarray(0, nul));
}

function startsWithMagic(data: Uint8Array, pos: number): boolean {
  return (
    pos + 4 <= data.length &&
    data[pos] === MAGIC_BYTES[0] &&
    data[pos + 1] === MAGIC_BYTES[1] &&
    data[pos + 2] === MAGIC_BYTES[2] &&
    data[pos + 3] === MAGIC_BYTES[3]
  );
}

function findMagic(data: Uint8Array, from: number): number {
  let i = data.indexOf(MAGIC_BYTES[0] ?? 0, from);
  while (i >= 0 && i + 4 <= data.length) {
    if (startsWithMagic(data, i)) return i;
    i = data.indexOf(MAGIC_BYTES[0] ?? 0, i + 1);
  }
  return -1;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}
