// Decoders compiled once from each enabled event's format file: field roles
// become offsets, so the hot path is a switch on kind plus fixed-offset reads.

import { type EventFormat, fieldOf } from "./event-format";
import type { RecordKind } from "./record-kind";

const MAX_ROLES = 6;

export class RecordDecoder {
  readonly offsets = new Int32Array(MAX_ROLES).fill(-1);
  readonly sizes = new Uint8Array(MAX_ROLES);
  readonly signed = new Uint8Array(MAX_ROLES);
  readonly defaults = new Float64Array(MAX_ROLES);
  /** Offset of the __data_loc of the main string (path, filename), or -1. */
  stringOffset = -1;
  argvStrings: number[] = [];
  argvPointers: number[] = [];
  /** e.g. "setresuid" for sys_enter_setresuid, "openat" for the openat uprobe. */
  readonly syscall: string;

  constructor(
    readonly id: number,
    readonly kind: RecordKind,
    readonly name: string,
  ) {
    this.syscall = name.replace(/^sys_(?:enter|exit)_/, "");
  }

  /** Integer role i of the record at base: sign-extends 8-byte syscall args from their low 32 bits. */
  int(role: number, buffer: Buffer, base: number): number {
    const offset = this.offsets[role];
    if (offset < 0) return this.defaults[role];
    const at = base + offset;
    switch (this.sizes[role]) {
      case 1:
        return this.signed[role] ? buffer.readInt8(at) : buffer[at];
      case 2:
        return this.signed[role] ? buffer.readInt16LE(at) : buffer.readUInt16LE(at);
      default:
        return this.signed[role] ? buffer.readInt32LE(at) : buffer.readUInt32LE(at);
    }
  }

  /** Signed view regardless of declared signedness (syscall ret/dfd are "long"/"int" in 8 bytes). */
  signedInt(role: number, buffer: Buffer, base: number): number {
    const offset = this.offsets[role];
    return offset < 0 ? this.defaults[role] : buffer.readInt32LE(base + offset);
  }

  /** A __data_loc string; undefined when the probe could not read it (fault: length 0). */
  string(offset: number, buffer: Buffer, base: number, length: number): string | undefined {
    if (offset < 0) return undefined;
    const loc = buffer.readUInt32LE(base + offset);
    const start = loc & 0xffff;
    const size = loc >>> 16;
    if (size === 0 || start + size > length) return undefined;
    // The stored string ends with its NUL.
    const end = buffer[base + start + size - 1] === 0 ? size - 1 : size;
    return buffer.toString("utf8", base + start, base + start + end);
  }

  /** 64-bit raw field as a non-zero test (argv pointers). */
  nonZero64(offset: number, buffer: Buffer, base: number): boolean {
    return buffer.readUInt32LE(base + offset) !== 0 || buffer.readUInt32LE(base + offset + 4) !== 0;
  }
}

export interface DecoderSpec {
  kind: RecordKind;
  fields: string[];
  defaults?: number[];
  stringField?: string;
  argvSlots?: number;
}

export function compileDecoder(format: EventFormat, spec: DecoderSpec): RecordDecoder {
  const decoder = new RecordDecoder(format.id, spec.kind, format.name);
  spec.fields.forEach((name, role) => {
    decoder.defaults[role] = spec.defaults?.[role] ?? 0;
    const field = fieldOf(format, name);
    if (field === undefined) return;
    decoder.offsets[role] = field.offset;
    decoder.sizes[role] = field.size;
    decoder.signed[role] = field.signed ? 1 : 0;
  });
  if (spec.stringField !== undefined) {
    const field = fieldOf(format, spec.stringField);
    if (field === undefined || !field.dataLoc) {
      throw new Error(`${format.name}: field ${spec.stringField} is not a __data_loc string`);
    }
    decoder.stringOffset = field.offset;
  }
  for (let index = 0; index < (spec.argvSlots ?? 0); index++) {
    const text = fieldOf(format, `a${index}`);
    const pointer = fieldOf(format, `p${index}`);
    if (text === undefined || pointer === undefined)
      throw new Error(`${format.name}: argv slot ${index} missing`);
    decoder.argvStrings.push(text.offset);
    decoder.argvPointers.push(pointer.offset);
  }
  return decoder;
}
