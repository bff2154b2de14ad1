// Decoder for one ring-buffer page as read from per_cpu/cpuN/trace_pipe_raw
// (kernel/trace/ring_buffer.c): page header (timestamp, commit) then events,
// each with a 32-bit header {type_len:5, time_delta:27}.

import type { PageHeaderFormat } from "./event-format";

const TYPE_PADDING = 29;
const TYPE_TIME_EXTEND = 30;
const TYPE_TIME_STAMP = 31;
const TS_SHIFT = 2 ** 27;
/** commit flags: events were lost before this page; the count follows the data. */
const MISSED_EVENTS = 0x80000000;
const MISSED_STORED = 0x40000000;
const COMMIT_LENGTH_MASK = 0x3fffffff;

/** Records of one poll as parallel arrays: no object per record. */
export class RecordBatch {
  readonly timestamps: number[] = [];
  readonly buffers: Buffer[] = [];
  readonly offsets: number[] = [];
  readonly lengths: number[] = [];
  count = 0;
  /** Indices sorted by timestamp (stable), filled by sort(). */
  order: number[] = [];
  private readonly byTimestamp = (a: number, b: number): number =>
    this.timestamps[a] - this.timestamps[b] || a - b;

  push(timestamp: number, buffer: Buffer, offset: number, length: number): void {
    this.timestamps[this.count] = timestamp;
    this.buffers[this.count] = buffer;
    this.offsets[this.count] = offset;
    this.lengths[this.count] = length;
    this.count++;
  }

  /** Records of different CPUs interleave in time; a thread may migrate between a probe and its syscall. */
  sort(): void {
    this.order.length = this.count;
    for (let index = 0; index < this.count; index++) this.order[index] = index;
    this.order.sort(this.byTimestamp);
  }

  clear(): void {
    this.count = 0;
    this.buffers.fill(EMPTY);
  }
}

const EMPTY = Buffer.alloc(0);

export interface PageResult {
  records: number;
  /** Events the kernel reports lost before this page; -1 when lost but not counted. */
  missed: number;
  /** Bytes of the page that could not be decoded (corrupt or truncated). */
  malformed: boolean;
}

/** Appends every data record of the page to out; timestamps in trace-clock nanoseconds. */
export function decodePage(page: Buffer, header: PageHeaderFormat, out: RecordBatch): PageResult {
  const result: PageResult = { records: 0, missed: 0, malformed: false };
  if (page.length < header.dataOffset) {
    result.malformed = true;
    return result;
  }
  let timestamp = Number(page.readBigUInt64LE(header.timestampOffset));
  const commit = page.readUInt32LE(header.commitOffset);
  const length = commit & COMMIT_LENGTH_MASK;
  const start = header.dataOffset;
  const end = start + length;
  if (end > page.length) {
    result.malformed = true;
    return result;
  }
  if ((commit & MISSED_EVENTS) !== 0) {
    result.missed =
      (commit & MISSED_STORED) !== 0 && end + 8 <= page.length ? Number(page.readBigUInt64LE(end)) : -1;
  }
  let at = start;
  while (at + 4 <= end) {
    const word = page.readUInt32LE(at);
    const typeLen = word & 0x1f;
    const delta = word >>> 5;
    if (typeLen === TYPE_PADDING) {
      if (delta === 0) break; // The rest of the page is unused.
      // A discarded event: its time delta still counts.
      timestamp += delta;
      at += 4 + page.readUInt32LE(at + 4);
    } else if (typeLen === TYPE_TIME_EXTEND) {
      timestamp += page.readUInt32LE(at + 4) * TS_SHIFT + delta;
      at += 8;
    } else if (typeLen === TYPE_TIME_STAMP) {
      timestamp = page.readUInt32LE(at + 4) * TS_SHIFT + delta;
      at += 8;
    } else if (typeLen === 0) {
      // Large record: array[0] holds the length including itself.
      const size = page.readUInt32LE(at + 4);
      if (size < 4 || at + 4 + size > end) {
        result.malformed = true;
        break;
      }
      timestamp += delta;
      out.push(timestamp, page, at + 8, size - 4);
      result.records++;
      at += 4 + ((size + 3) & ~3);
    } else {
      const size = typeLen * 4;
      if (at + 4 + size > end) {
        result.malformed = true;
        break;
      }
      timestamp += delta;
      out.push(timestamp, page, at + 4, size);
      result.records++;
      at += 4 + size;
    }
  }
  return result;
}
