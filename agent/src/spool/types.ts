import type { Event } from "@vigil/proto";

/** A batch as the link sends it. */
export interface SpooledBatch {
  sequence: number;
  /** Decoded on first access when the spool keeps the batch encoded (`encoded` set): the link never asks. */
  readonly events: Event[];
  /** The batch as an EventBatch protobuf (the disk spool's bytes, with its sequence): sent as is. */
  encoded?: Uint8Array;
  /** How many times it went out on a stream; >1 means resent. */
  attempts: number;
}

/** What an eviction (or several since the last report) dropped to keep the spool within its bound. */
export interface OverflowReport {
  eventsLost: number;
  /** Batches that left the spool whole. */
  batchesLost: number;
  bytesFreed: number;
  /** "low-priority.<kind>" / "spool-full.<kind>" / "memory-full.<kind>" → events. */
  lostByReason: Record<string, number>;
  oldestLostUs: number;
  newestLostUs: number;
  /** Since the spool was created (a disk spool keeps it across restarts). */
  totalEventsLost: number;
  maxBytes: number;
  spoolBytes: number;
}

/**
 * Where batches wait for the server's ack, in sequence order. The first
 * inFlight() of them are on the current stream; rewind() puts them back so a
 * new stream resends every unacked batch in order.
 */
export interface BatchSpool {
  /** Stores a batch and gives it the next sequence. Never blocks on the server. */
  append(events: Event[]): number;
  /** Next batch to put on the stream, if the in-flight window allows. */
  takeNextToSend(maxInFlight: number): SpooledBatch | undefined;
  /** The server acked (or rejected) it: it leaves the spool. Undefined when unknown. */
  acknowledge(sequence: number): { events: number } | undefined;
  /** The stream is gone: everything in flight must go out again. */
  rewind(): void;
  inFlight(): number;
  /** Unacked batches. */
  size(): number;
  /** Events in unacked batches. */
  eventCount(): number;
  /** Every sequence up to this one is acked (or was evicted). */
  lastAckedSequence(): number;
  /** Evictions since the last call, summed; undefined when there were none. */
  takeOverflow(): OverflowReport | undefined;
  /** How long the oldest unacked batch has been in the spool, ms (0 when none; a batch recovered
   *  from disk counts from its segment's last write). */
  oldestUnackedAgeMs(nowMs: number): number;
  /** Counters for heartbeats and /metrics. */
  stats(): Record<string, number>;
  /** Flushes and persists everything; the spool is unusable afterwards. */
  close(): void;
}
