import {
  closeSync,
  fsyncSync,
  ftruncateSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import type { Logger } from "@vigil/common";
import { type Event, EventBatch } from "@vigil/proto";
import { countLowPriority, eventKind, isLowPriority } from "./event-priority";
import { type FsyncPolicy, FsyncScheduler } from "./fsync-scheduler";
import { checkFrame, decodeRecordEvents, encodeRecord, recordBatchBytes } from "./record-frame";
import {
  FLAG_COMPACTED,
  parseSegmentName,
  SEGMENT_HEADER_BYTES,
  scanSegment,
  segmentHeader,
  segmentName,
} from "./segment-file";
import { prepareSpoolDir } from "./spool-dir";
import { fsyncDir, loadSpoolState, type SpoolState, saveSpoolState } from "./spool-state";
import type { BatchSpool, OverflowReport, SpooledBatch } from "./types";

export interface DiskSpoolOptions {
  dir: string;
  maxBytes: number;
  segmentBytes: number;
  fsync: FsyncPolicy;
  fsyncIntervalMs: number;
  logger: Logger;
  /** First sequence of a new spool (default: microseconds now, above anything an older agent used). */
  firstSequence?: () => number;
}

/** Sequences handed out per durable reservation in state.json. */
const SEQUENCE_RESERVATION = 100_000;
/**
 * Batches kept in memory for sending, beside their copy on disk: encoded (the
 * frame just written), never decoded, so the collectors' Event objects die as
 * soon as they are spooled and the bound is what it says.
 */
const CACHE_BYTES = 16 * 1024 * 1024;
/** The ack cursor is written at most this often (and on close). */
const STATE_SAVE_INTERVAL_MS = 200;

interface Segment {
  id: number;
  path: string;
  bytes: number;
  /** Low-priority events in its unacked records. */
  lowEvents: number;
  compacted: boolean;
  /** Only the active segment has one. */
  fd: number | undefined;
}

interface Entry {
  sequence: number;
  segment: Segment;
  offset: number;
  frameBytes: number;
  events: number;
  lowEvents: number;
  attempts: number;
  /** The frame as written (encoded EventBatch inside), while within CACHE_BYTES. */
  cached: Buffer | undefined;
  /** Date.now() when it was appended (recovered: its segment file's mtime). */
  spooledAtMs: number;
}

/**
 * The agent's on-disk spool: every batch is appended to a segment file before
 * it is sent and leaves only when the server acked it (see README "Spool").
 * Segments are append-only files of checksummed records; state.json holds the
 * ack cursor and the sequence reservation. Bounded by maxBytes: beyond it the
 * oldest sealed segments first lose their low-priority events (rewritten in
 * place), and only when no low-priority event is left outside the active
 * segment are the oldest whole segments dropped. Every loss is counted by
 * reason and kind and reported through takeOverflow().
 */
export class DiskSpool implements BatchSpool {
  private readonly segments: Segment[] = [];
  /** Unacked batches in sequence order, from `head`. */
  private entries: Entry[] = [];
  private head = 0;
  private sentCount = 0;
  private nextSequence = 0;
  private totalBytes = 0;
  private cacheBytes = 0;
  private unackedEvents = 0;
  private readonly state: SpoolState;
  private readonly fsyncs: FsyncScheduler;
  private stateTimer: NodeJS.Timeout | undefined;
  private overflow: OverflowReport | undefined;
  private closed = false;
  private readonly counters = {
    batchesAppended: 0,
    bytesAppended: 0,
    batchesReadFromDisk: 0,
    recoveredBatches: 0,
    recoveredEvents: 0,
    corruptRecords: 0,
    tornTails: 0,
    segmentsDeleted: 0,
    segmentsCompacted: 0,
    segmentsDropped: 0,
    writeErrors: 0,
  };

  constructor(private readonly options: DiskSpoolOptions) {
    prepareSpoolDir(options.dir);
    this.fsyncs = new FsyncScheduler(options.fsync, options.fsyncIntervalMs, (error) =>
      options.logger.error({ err: error }, "spool fsync failed"),
    );
    const loaded = loadSpoolState(options.dir);
    if (loaded.kind === "corrupt") {
      options.logger.error({ why: loaded.why }, "spool state.json unreadable: resending all spooled batches");
    }
    const fresh = loaded.kind !== "ok";
    this.state =
      loaded.kind === "ok"
        ? loaded.state
        : { ackedThrough: 0, reservedThrough: 0, totalEventsLost: 0, lostByReason: {} };
    const highest = this.recover();
    // Never reuse a sequence the server may hold: above the reservation, above
    // every record, and for a new (or lost) state above "now" in microseconds.
    const first = fresh ? (options.firstSequence?.() ?? Date.now() * 1000) : 0;
    this.nextSequence = Math.max(
      this.state.reservedThrough + 1,
      highest + 1,
      this.state.ackedThrough + 1,
      first,
    );
    // Whatever lies below the oldest recovered batch is done: acked, evicted or unreadable.
    this.state.ackedThrough = Math.max(
      this.state.ackedThrough,
      (this.entries[0]?.sequence ?? this.nextSequence) - 1,
    );
    this.reserve();
    this.openSegment(0);
    if (
      this.counters.recoveredBatches > 0 ||
      this.counters.corruptRecords > 0 ||
      this.counters.tornTails > 0
    ) {
      options.logger.info(
        {
          dir: options.dir,
          batches: this.counters.recoveredBatches,
          events: this.counters.recoveredEvents,
          corruptRecords: this.counters.corruptRecords,
          tornTails: this.counters.tornTails,
          nextSequence: this.nextSequence,
        },
        "spool recovered: unacked batches will be resent in order",
      );
    }
  }

  append(events: Event[]): number {
    this.assertOpen();
    const sequence = this.nextSequence++;
    if (sequence > this.state.reservedThrough) this.reserve();
    const lowEvents = countLowPriority(events);
    const frame = encodeRecord(sequence, events, lowEvents);
    let active = this.activeSegment();
    if (active.bytes > SEGMENT_HEADER_BYTES && active.bytes + frame.length > this.options.segmentBytes) {
      active = this.openSegment(this.sealActive());
    }
    const offset = active.bytes;
    this.writeAll(active, frame, offset);
    active.bytes += frame.length;
    active.lowEvents += lowEvents;
    this.totalBytes += frame.length;
    this.unackedEvents += events.length;
    const cached = this.cacheBytes + frame.length <= CACHE_BYTES ? frame : undefined;
    if (cached) this.cacheBytes += frame.length;
    this.entries.push({
      sequence,
      segment: active,
      offset,
      frameBytes: frame.length,
      events: events.length,
      lowEvents,
      attempts: 0,
      cached,
      spooledAtMs: Date.now(),
    });
    this.counters.batchesAppended++;
    this.counters.bytesAppended += frame.length;
    this.fsyncs.written(active.fd as number);
    if (this.totalBytes > this.options.maxBytes) this.evict();
    return sequence;
  }

  takeNextToSend(maxInFlight: number): SpooledBatch | undefined {
    while (this.sentCount < maxInFlight && this.head + this.sentCount < this.entries.length) {
      const entry = this.entries[this.head + this.sentCount];
      const frame = entry.cached ?? this.readFrame(entry);
      if (!frame) {
        // Unreadable on disk since it was written: counted, and it leaves the spool.
        this.removeEntryAt(this.head + this.sentCount);
        this.afterRemoval();
        continue;
      }
      if (!entry.cached) this.counters.batchesReadFromDisk++;
      this.sentCount++;
      entry.attempts++;
      return encodedBatch(entry.sequence, recordBatchBytes(frame), entry.attempts);
    }
    return undefined;
  }

  acknowledge(sequence: number): { events: number } | undefined {
    // Acks arrive in order, so this is almost always the head.
    let index = this.head;
    if (this.entries[index]?.sequence !== sequence) {
      index = this.entries.findIndex((entry, at) => at >= this.head && entry.sequence === sequence);
      if (index < 0) return undefined;
    }
    const entry = this.entries[index];
    if (index < this.head + this.sentCount) this.sentCount--;
    this.removeEntryAt(index);
    this.afterRemoval();
    return { events: entry.events };
  }

  rewind(): void {
    this.sentCount = 0;
  }

  inFlight(): number {
    return this.sentCount;
  }

  size(): number {
    return this.entries.length - this.head;
  }

  eventCount(): number {
    return this.unackedEvents;
  }

  lastAckedSequence(): number {
    return this.state.ackedThrough;
  }

  oldestUnackedAgeMs(nowMs: number): number {
    const oldest = this.entries[this.head];
    return oldest ? Math.max(0, Math.round(nowMs - oldest.spooledAtMs)) : 0;
  }

  bytes(): number {
    return this.totalBytes;
  }

  takeOverflow(): OverflowReport | undefined {
    const report = this.overflow;
    this.overflow = undefined;
    return report;
  }

  stats(): Record<string, number> {
    return {
      ...this.counters,
      bytes: this.totalBytes,
      maxBytes: this.options.maxBytes,
      segments: this.segments.length,
      unackedBatches: this.size(),
      unackedEvents: this.unackedEvents,
      eventsLost: this.state.totalEventsLost,
      fsyncs: this.fsyncs.fsyncs,
      fsyncErrors: this.fsyncs.fsyncErrors,
    };
  }

  /** Events lost since the spool was created, by reason and kind. */
  lostByReason(): Record<string, number> {
    return { ...this.state.lostByReason };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.stateTimer) clearTimeout(this.stateTimer);
    this.fsyncs.stop();
    const active = this.activeSegment();
    if (active.fd !== undefined) {
      if (this.options.fsync !== "never") fsyncSync(active.fd);
      closeSync(active.fd);
      active.fd = undefined;
    }
    saveSpoolState(this.options.dir, this.state, this.options.fsync !== "never");
  }

  // ---------------------------------------------------------------- recovery

  /** Scans the segments in order; returns the highest sequence found on disk. */
  private recover(): number {
    const { dir, logger } = this.options;
    const ids: number[] = [];
    for (const name of readdirSync(dir)) {
      const id = parseSegmentName(name);
      if (id !== undefined) ids.push(id);
      else if (name.endsWith(".tmp")) rmSync(join(dir, name), { force: true });
    }
    ids.sort((a, b) => a - b);
    let highest = 0;
    for (const [index, id] of ids.entries()) {
      const path = join(dir, segmentName(id));
      const isLast = index === ids.length - 1;
      const data = readFileSync(path);
      const scan = scanSegment(data, isLast);
      this.counters.corruptRecords += scan.corruptRecords;
      if (scan.firstProblem) {
        logger.error(
          { segment: path, problem: scan.firstProblem, corruptRecords: scan.corruptRecords },
          "spool segment damaged",
        );
      }
      if (!scan.headerOk) {
        this.counters.corruptRecords++;
        if (scan.tornTail) this.counters.tornTails++;
        rmSync(path, { force: true });
        continue;
      }
      if (scan.tornTail) {
        this.counters.tornTails++;
        const fd = openSync(path, "r+");
        ftruncateSync(fd, scan.validEnd);
        fsyncSync(fd);
        closeSync(fd);
      }
      const segment: Segment = {
        id,
        path,
        bytes: scan.tornTail ? scan.validEnd : data.length,
        lowEvents: 0,
        compacted: (scan.flags & FLAG_COMPACTED) !== 0,
        fd: undefined,
      };
      let kept = 0;
      const segmentMtimeMs = statSync(path).mtimeMs;
      for (const record of scan.records) {
        highest = Math.max(highest, record.sequence);
        const last = this.entries[this.entries.length - 1];
        if (record.sequence <= this.state.ackedThrough || (last && record.sequence <= last.sequence))
          continue;
        kept++;
        segment.lowEvents += record.lowEvents;
        this.unackedEvents += record.events;
        this.entries.push({
          sequence: record.sequence,
          segment,
          offset: record.offset,
          frameBytes: record.frameBytes,
          events: record.events,
          lowEvents: record.lowEvents,
          attempts: 0,
          cached: undefined,
          spooledAtMs: segmentMtimeMs,
        });
        this.counters.recoveredBatches++;
        this.counters.recoveredEvents += record.events;
      }
      if (kept === 0) {
        rmSync(path, { force: true });
        this.counters.segmentsDeleted++;
        continue;
      }
      this.segments.push(segment);
      this.totalBytes += segment.bytes;
    }
    return highest;
  }

  // ---------------------------------------------------------------- segments

  private activeSegment(): Segment {
    return this.segments[this.segments.length - 1];
  }

  /** Closes the active segment for writing; returns the next segment id. */
  private sealActive(): number {
    const active = this.activeSegment();
    const fd = active.fd;
    active.fd = undefined;
    if (fd !== undefined) this.fsyncs.retire(fd, () => closeSync(fd));
    return active.id + 1;
  }

  private openSegment(id: number): Segment {
    const nextId = Math.max(id, (this.segments[this.segments.length - 1]?.id ?? -1) + 1);
    const path = join(this.options.dir, segmentName(nextId));
    const fd = openSync(path, "w", 0o600);
    const segment: Segment = { id: nextId, path, bytes: 0, lowEvents: 0, compacted: false, fd };
    this.writeAll(segment, segmentHeader(0), 0);
    segment.bytes = SEGMENT_HEADER_BYTES;
    this.segments.push(segment);
    this.totalBytes += SEGMENT_HEADER_BYTES;
    if (this.options.fsync !== "never") fsyncDir(this.options.dir);
    return segment;
  }

  private writeAll(segment: Segment, data: Buffer, position: number): void {
    const fd = segment.fd as number;
    let written = 0;
    try {
      while (written < data.length) {
        written += writeSync(fd, data, written, data.length - written, position + written);
      }
    } catch (error) {
      this.counters.writeErrors++;
      // Leave no torn record behind us for the next append to follow.
      ftruncateSync(fd, position);
      throw error;
    }
  }

  private readFrame(entry: Entry): Buffer | undefined {
    const frame = Buffer.allocUnsafe(entry.frameBytes);
    let fd: number | undefined;
    try {
      fd = entry.segment.fd ?? openSync(entry.segment.path, "r");
      const read = readSync(fd, frame, 0, entry.frameBytes, entry.offset);
      const check = checkFrame(frame.subarray(0, read), 0);
      if (check.kind === "ok" && check.header.sequence === entry.sequence) return frame;
      throw new Error(
        check.kind === "ok" ? "sequence mismatch" : check.kind === "short" ? "short read" : check.why,
      );
    } catch (error) {
      this.counters.corruptRecords++;
      this.options.logger.error(
        { segment: entry.segment.path, sequence: entry.sequence, err: error },
        "spooled batch unreadable: dropped",
      );
      this.recordLoss("unreadable.batch", entry.events, undefined);
      return undefined;
    } finally {
      if (fd !== undefined && fd !== entry.segment.fd) closeSync(fd);
    }
  }

  /** Removes one unacked entry (acked, unreadable or evicted) from the queue. */
  private removeEntryAt(index: number): void {
    const [entry] = index === this.head ? [this.entries[this.head++]] : this.entries.splice(index, 1);
    entry.segment.lowEvents -= entry.lowEvents;
    this.unackedEvents -= entry.events;
    if (entry.cached) this.cacheBytes -= entry.frameBytes;
    entry.cached = undefined;
    if (this.head > 1024 && this.head * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.head);
      this.head = 0;
    }
  }

  /** Moves the ack cursor, deletes fully acked sealed segments, schedules a state save. */
  private afterRemoval(): void {
    const oldest = this.entries[this.head];
    const through = oldest ? oldest.sequence - 1 : this.nextSequence - 1;
    if (through > this.state.ackedThrough) this.state.ackedThrough = through;
    const active = this.activeSegment();
    while (this.segments.length > 1) {
      const segment = this.segments[0];
      if (oldest && oldest.segment.id <= segment.id) break;
      this.segments.shift();
      this.deleteSegment(segment);
    }
    // The active segment too, once everything in it is acked and it is worth a new file.
    if (!oldest && active.bytes > this.options.segmentBytes / 2) {
      this.openSegment(this.sealActive());
      this.segments.shift();
      this.deleteSegment(active);
    }
    this.scheduleStateSave();
  }

  private deleteSegment(segment: Segment): void {
    rmSync(segment.path, { force: true });
    this.totalBytes -= segment.bytes;
    this.counters.segmentsDeleted++;
  }

  // ---------------------------------------------------------------- eviction

  /**
   * Brings the spool back under maxBytes: first the oldest sealed segment that
   * still holds low-priority events is rewritten without them (batches in
   * flight are left whole: the server may already have them); when none is
   * left, the oldest sealed segment goes whole. The active segment is never
   * touched, so maxBytes must leave room for it (config: ≥ 2 segments).
   */
  private evict(): void {
    while (this.totalBytes > this.options.maxBytes && this.segments.length > 1) {
      const sealed = this.segments.slice(0, -1);
      const compactable = sealed.find((segment) => !segment.compacted && segment.lowEvents > 0);
      if (compactable) this.compact(compactable);
      else this.dropSegment(sealed[0]);
    }
  }

  private inFlightSequences(): Set<number> {
    const set = new Set<number>();
    for (let index = this.head; index < this.head + this.sentCount; index++)
      set.add(this.entries[index].sequence);
    return set;
  }

  private compact(segment: Segment): void {
    const inFlight = this.inFlightSequences();
    const temp = `${segment.path}.tmp`;
    const fd = openSync(temp, "w", 0o600);
    const rewritten: Segment = { ...segment, fd };
    const parts: Buffer[] = [segmentHeader(FLAG_COMPACTED)];
    let size = SEGMENT_HEADER_BYTES;
    const moves: Array<{ entry: Entry; offset: number; frameBytes: number; events?: Event[] }> = [];
    const gone: Entry[] = [];
    let lostEvents = 0;
    for (let index = this.head; index < this.entries.length; index++) {
      const entry = this.entries[index];
      if (entry.segment !== segment) continue;
      const frame = this.readFrame(entry);
      if (!frame) {
        gone.push(entry);
        continue;
      }
      if (entry.lowEvents === 0 || inFlight.has(entry.sequence)) {
        moves.push({ entry, offset: size, frameBytes: frame.length });
        parts.push(frame);
        size += frame.length;
        continue;
      }
      const events = decodeRecordEvents(frame);
      const kept: Event[] = [];
      for (const event of events) {
        if (isLowPriority(event)) this.recordLoss(`low-priority.${eventKind(event)}`, 1, event.timestampUs);
        else kept.push(event);
      }
      lostEvents += events.length - kept.length;
      if (kept.length === 0) {
        gone.push(entry);
        continue;
      }
      const replacement = encodeRecord(entry.sequence, kept, 0);
      moves.push({ entry, offset: size, frameBytes: replacement.length, events: kept });
      parts.push(replacement);
      size += replacement.length;
    }
    try {
      const data = Buffer.concat(parts);
      this.writeAll(rewritten, data, 0);
      if (this.options.fsync !== "never") fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, segment.path);
    const freed = segment.bytes - size;
    for (const move of moves) {
      const { entry } = move;
      if (move.events) {
        this.unackedEvents -= entry.events - move.events.length;
        segment.lowEvents -= entry.lowEvents;
        entry.events = move.events.length;
        entry.lowEvents = 0;
        if (entry.cached) {
          this.cacheBytes -= entry.frameBytes;
          entry.cached = undefined;
        }
      }
      entry.offset = move.offset;
      entry.frameBytes = move.frameBytes;
    }
    segment.bytes = size;
    segment.compacted = true;
    this.totalBytes -= freed;
    this.counters.segmentsCompacted++;
    this.noteOverflow(gone.length, freed);
    this.removeEntries(gone);
    this.options.logger.warn(
      { segment: segment.path, eventsLost: lostEvents, bytesFreed: freed, maxBytes: this.options.maxBytes },
      "spool full: low-priority events evicted from the oldest segment",
    );
  }

  private dropSegment(segment: Segment): void {
    const dropped: Entry[] = [];
    for (let index = this.head; index < this.entries.length; index++) {
      const entry = this.entries[index];
      if (entry.segment !== segment) continue;
      dropped.push(entry);
      const frame = entry.cached ?? this.readFrame(entry);
      const events = frame ? decodeRecordEvents(frame) : [];
      for (const event of events) this.recordLoss(`spool-full.${eventKind(event)}`, 1, event.timestampUs);
    }
    const inFlight = this.inFlightSequences();
    for (const entry of dropped) if (inFlight.has(entry.sequence)) this.sentCount--;
    this.segments.splice(this.segments.indexOf(segment), 1);
    this.deleteSegment(segment);
    this.counters.segmentsDropped++;
    this.noteOverflow(dropped.length, segment.bytes);
    this.removeEntries(dropped);
    this.afterRemoval();
    this.options.logger.error(
      { segment: segment.path, batchesLost: dropped.length, maxBytes: this.options.maxBytes },
      "spool full of high-priority events: oldest segment dropped",
    );
  }

  private removeEntries(gone: Entry[]): void {
    if (gone.length === 0) return;
    const set = new Set(gone);
    for (const entry of gone) {
      entry.segment.lowEvents -= entry.lowEvents;
      this.unackedEvents -= entry.events;
      if (entry.cached) this.cacheBytes -= entry.frameBytes;
    }
    this.entries = this.entries.slice(this.head).filter((entry) => !set.has(entry));
    this.head = 0;
    this.afterRemoval();
  }

  private recordLoss(reason: string, events: number, timestampUs: number | undefined): void {
    this.state.totalEventsLost += events;
    this.state.lostByReason[reason] = (this.state.lostByReason[reason] ?? 0) + events;
    const report = this.currentOverflow();
    report.eventsLost += events;
    report.lostByReason[reason] = (report.lostByReason[reason] ?? 0) + events;
    if (timestampUs) {
      report.oldestLostUs = report.oldestLostUs ? Math.min(report.oldestLostUs, timestampUs) : timestampUs;
      report.newestLostUs = Math.max(report.newestLostUs, timestampUs);
    }
    report.totalEventsLost = this.state.totalEventsLost;
  }

  private noteOverflow(batchesLost: number, bytesFreed: number): void {
    const report = this.currentOverflow();
    report.batchesLost += batchesLost;
    report.bytesFreed += bytesFreed;
    report.spoolBytes = this.totalBytes;
    report.totalEventsLost = this.state.totalEventsLost;
  }

  private currentOverflow(): OverflowReport {
    this.overflow ??= {
      eventsLost: 0,
      batchesLost: 0,
      bytesFreed: 0,
      lostByReason: {},
      oldestLostUs: 0,
      newestLostUs: 0,
      totalEventsLost: this.state.totalEventsLost,
      maxBytes: this.options.maxBytes,
      spoolBytes: this.totalBytes,
    };
    return this.overflow;
  }

  // ---------------------------------------------------------------- state

  /** Reserves the next block of sequences durably before any of them is used. */
  private reserve(): void {
    this.state.reservedThrough = this.nextSequence + SEQUENCE_RESERVATION;
    saveSpoolState(this.options.dir, this.state, true);
  }

  private scheduleStateSave(): void {
    if (this.stateTimer || this.closed) return;
    this.stateTimer = setTimeout(() => {
      this.stateTimer = undefined;
      if (this.closed) return;
      try {
        saveSpoolState(this.options.dir, this.state, false);
      } catch (error) {
        this.options.logger.error({ err: error }, "spool state save failed");
      }
    }, STATE_SAVE_INTERVAL_MS);
    this.stateTimer.unref();
  }

  private assertOpen(): void {
    if (this.closed) throw new Error("spool is closed");
  }
}

/** A batch to send as its encoded bytes; `events` decodes them only if someone asks (tests). */
function encodedBatch(sequence: number, encoded: Buffer, attempts: number): SpooledBatch {
  let events: Event[] | undefined;
  return {
    sequence,
    encoded,
    attempts,
    get events() {
      events ??= EventBatch.decode(encoded).events;
      return events;
    },
  };
}

/** Size of a directory's spool files (tests, bench). */
export function spoolFileBytes(dir: string): number {
  let total = 0;
  for (const name of readdirSync(dir))
    if (parseSegmentName(name) !== undefined) total += statSync(join(dir, name)).size;
  return total;
}
