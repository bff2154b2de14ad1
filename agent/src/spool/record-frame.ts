import { crc32 } from "node:zlib";
import { type Event, EventBatch } from "@vigil/proto";

/**
 * One spooled batch on disk:
 *
 *   u32 magic "VSPR" | u32 body length | u32 CRC-32 of (length bytes, body) | body
 *   body = u64 sequence | u32 events | u32 low-priority events | EventBatch (protobuf)
 *
 * All little-endian. The magic lets recovery find the next record after a
 * corrupt one; the CRC covers the length too, so a flipped length is caught.
 */
export const RECORD_MAGIC = 0x52505356;
export const FRAME_HEADER_BYTES = 12;
export const BODY_HEADER_BYTES = 16;
/** Larger than any batch the server takes (4 MiB): a length beyond it is corruption. */
export const MAX_BODY_BYTES = 64 * 1024 * 1024;

export interface RecordHeader {
  sequence: number;
  events: number;
  lowEvents: number;
}

export function encodeRecord(sequence: number, events: Event[], lowEvents: number): Buffer {
  const batch = EventBatch.encode({ sequence, events }).finish();
  const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + BODY_HEADER_BYTES + batch.length);
  const bodyLength = BODY_HEADER_BYTES + batch.length;
  frame.writeUInt32LE(RECORD_MAGIC, 0);
  frame.writeUInt32LE(bodyLength, 4);
  frame.writeBigUInt64LE(BigInt(sequence), FRAME_HEADER_BYTES);
  frame.writeUInt32LE(events.length, FRAME_HEADER_BYTES + 8);
  frame.writeUInt32LE(lowEvents, FRAME_HEADER_BYTES + 12);
  frame.set(batch, FRAME_HEADER_BYTES + BODY_HEADER_BYTES);
  frame.writeUInt32LE(frameCrc(frame, 0, bodyLength), 8);
  return frame;
}

function frameCrc(buffer: Buffer, frameOffset: number, bodyLength: number): number {
  const lengthBytes = buffer.subarray(frameOffset + 4, frameOffset + 8);
  const body = buffer.subarray(
    frameOffset + FRAME_HEADER_BYTES,
    frameOffset + FRAME_HEADER_BYTES + bodyLength,
  );
  return crc32(body, crc32(lengthBytes));
}

export type FrameCheck =
  | { kind: "ok"; header: RecordHeader; frameBytes: number }
  /** Not enough bytes left for the header or the body the length claims. */
  | { kind: "short" }
  | { kind: "corrupt"; why: string };

/** Checks the frame at `offset` without decoding the protobuf. */
export function checkFrame(buffer: Buffer, offset: number): FrameCheck {
  if (buffer.length - offset < FRAME_HEADER_BYTES) return { kind: "short" };
  if (buffer.readUInt32LE(offset) !== RECORD_MAGIC) return { kind: "corrupt", why: "bad record magic" };
  const bodyLength = buffer.readUInt32LE(offset + 4);
  if (bodyLength < BODY_HEADER_BYTES || bodyLength > MAX_BODY_BYTES) {
    return { kind: "corrupt", why: `impossible record length ${bodyLength}` };
  }
  if (buffer.length - offset - FRAME_HEADER_BYTES < bodyLength) return { kind: "short" };
  if (frameCrc(buffer, offset, bodyLength) !== buffer.readUInt32LE(offset + 8)) {
    return { kind: "corrupt", why: "checksum mismatch" };
  }
  const body = offset + FRAME_HEADER_BYTES;
  return {
    kind: "ok",
    frameBytes: FRAME_HEADER_BYTES + bodyLength,
    header: {
      sequence: Number(buffer.readBigUInt64LE(body)),
      events: buffer.readUInt32LE(body + 8),
      lowEvents: buffer.readUInt32LE(body + 12),
    },
  };
}

/** Decodes the events of a frame already checked by checkFrame. */
export function decodeRecordEvents(frame: Buffer): Event[] {
  return EventBatch.decode(recordBatchBytes(frame)).events;
}

/** The EventBatch protobuf inside a frame (a view, not a copy): what goes on the wire as is. */
export function recordBatchBytes(frame: Buffer): Buffer {
  return frame.subarray(FRAME_HEADER_BYTES + BODY_HEADER_BYTES);
}

/** Offset of the next record magic at or after `from`, or -1. */
export function findNextMagic(buffer: Buffer, from: number): number {
  const magic = Buffer.allocUnsafe(4);
  magic.writeUInt32LE(RECORD_MAGIC, 0);
  return buffer.indexOf(magic, from);
}
