import { checkFrame, findNextMagic } from "./record-frame";

/**
 * A segment file: a 16-byte header ("VIGILSPL", u32 version 1, u32 flags) and
 * records appended one after another. Named `<id>.seg`, the id zero-padded so
 * name order is append order.
 */
export const SEGMENT_MAGIC = Buffer.from("VIGILSPL", "latin1");
export const SEGMENT_VERSION = 1;
export const SEGMENT_HEADER_BYTES = 16;
/** Header flag: low-priority events were already evicted from this segment. */
export const FLAG_COMPACTED = 1;

export function segmentName(id: number): string {
  return `${String(id).padStart(12, "0")}.seg`;
}

export function parseSegmentName(name: string): number | undefined {
  const match = /^(\d{12})\.seg$/.exec(name);
  return match ? Number(match[1]) : undefined;
}

export function segmentHeader(flags: number): Buffer {
  const header = Buffer.alloc(SEGMENT_HEADER_BYTES);
  SEGMENT_MAGIC.copy(header, 0);
  header.writeUInt32LE(SEGMENT_VERSION, 8);
  header.writeUInt32LE(flags, 12);
  return header;
}

export interface ScannedRecord {
  offset: number;
  frameBytes: number;
  sequence: number;
  events: number;
  lowEvents: number;
}

export interface SegmentScan {
  headerOk: boolean;
  flags: number;
  records: ScannedRecord[];
  /** Records skipped in the middle (bad checksum or framing), each resynchronised on the next magic. */
  corruptRecords: number;
  /** Where the valid data ends when the tail is torn or corrupt (the last segment is cut there). */
  validEnd: number;
  tornTail: boolean;
  firstProblem: string | undefined;
}

/**
 * Reads every record of a segment. In the last segment (`isLast`) the first
 * bad record ends the scan: a crash mid-write leaves a torn tail, and nothing
 * after it can be trusted. Elsewhere a bad record is skipped and counted, and
 * the scan resumes at the next record magic.
 */
export function scanSegment(data: Buffer, isLast: boolean): SegmentScan {
  const scan: SegmentScan = {
    headerOk: false,
    flags: 0,
    records: [],
    corruptRecords: 0,
    validEnd: 0,
    tornTail: false,
    firstProblem: undefined,
  };
  if (data.length < SEGMENT_HEADER_BYTES || !data.subarray(0, 8).equals(SEGMENT_MAGIC)) {
    scan.firstProblem = "bad segment header";
    scan.tornTail = isLast && data.length > 0;
    return scan;
  }
  if (data.readUInt32LE(8) !== SEGMENT_VERSION) {
    scan.firstProblem = `unknown segment version ${data.readUInt32LE(8)}`;
    return scan;
  }
  scan.headerOk = true;
  scan.flags = data.readUInt32LE(12);
  let offset = SEGMENT_HEADER_BYTES;
  scan.validEnd = offset;
  while (offset < data.length) {
    const check = checkFrame(data, offset);
    if (check.kind === "ok") {
      scan.records.push({ offset, frameBytes: check.frameBytes, ...check.header });
      offset += check.frameBytes;
      scan.validEnd = offset;
      continue;
    }
    const why = check.kind === "short" ? "torn record at the end" : check.why;
    scan.firstProblem ??= `${why} at offset ${offset}`;
    if (isLast) {
      scan.tornTail = true;
      return scan;
    }
    scan.corruptRecords++;
    const next = findNextMagic(data, offset + 1);
    if (next < 0) break;
    offset = next;
  }
  return scan;
}
