import type { Event } from "@vigil/proto";
import { eventKind } from "./event-priority";
import type { BatchSpool, OverflowReport, SpooledBatch } from "./types";

/**
 * Unacked batches in memory only (spool.mode "memory": tests, embedded demos):
 * a restart loses them. Bounded by maxBatches; beyond it the oldest batch is
 * dropped, counted ("memory-full.<kind>") and reported like a disk overflow.
 */
export class MemorySpool implements BatchSpool {
  private readonly batches: Array<SpooledBatch & { spooledAtMs: number }> = [];
  private sentCount = 0;
  private nextSequence: number;
  private events = 0;
  private totalEventsLost = 0;
  private overflow: OverflowReport | undefined;

  constructor(
    private readonly maxBatches: number,
    firstSequence: number,
  ) {
    this.nextSequence = firstSequence;
  }

  append(events: Event[]): number {
    const sequence = this.nextSequence++;
    this.batches.push({ sequence, events, attempts: 0, spooledAtMs: Date.now() });
    this.events += events.length;
    if (this.batches.length > this.maxBatches) {
      const dropped = this.batches.shift() as SpooledBatch;
      if (this.sentCount > 0) this.sentCount--;
      this.events -= dropped.events.length;
      this.noteLoss(dropped.events);
    }
    return sequence;
  }

  takeNextToSend(maxInFlight: number): SpooledBatch | undefined {
    if (this.sentCount >= maxInFlight || this.sentCount >= this.batches.length) return undefined;
    const batch = this.batches[this.sentCount++];
    batch.attempts++;
    return batch;
  }

  acknowledge(sequence: number): { events: number } | undefined {
    const index = this.batches.findIndex((batch) => batch.sequence === sequence);
    if (index < 0) return undefined;
    const [batch] = this.batches.splice(index, 1);
    if (index < this.sentCount) this.sentCount--;
    this.events -= batch.events.length;
    return { events: batch.events.length };
  }

  rewind(): void {
    this.sentCount = 0;
  }

  inFlight(): number {
    return this.sentCount;
  }

  size(): number {
    return this.batches.length;
  }

  eventCount(): number {
    return this.events;
  }

  lastAckedSequence(): number {
    return (this.batches[0]?.sequence ?? this.nextSequence) - 1;
  }

  takeOverflow(): OverflowReport | undefined {
    const report = this.overflow;
    this.overflow = undefined;
    return report;
  }

  oldestUnackedAgeMs(nowMs: number): number {
    const oldest = this.batches[0];
    return oldest ? Math.max(0, Math.round(nowMs - oldest.spooledAtMs)) : 0;
  }

  stats(): Record<string, number> {
    return {
      unackedBatches: this.batches.length,
      unackedEvents: this.events,
      eventsLost: this.totalEventsLost,
    };
  }

  close(): void {}

  private noteLoss(events: Event[]): void {
    this.totalEventsLost += events.length;
    this.overflow ??= {
      eventsLost: 0,
      batchesLost: 0,
      bytesFreed: 0,
      lostByReason: {},
      oldestLostUs: 0,
      newestLostUs: 0,
      totalEventsLost: 0,
      maxBytes: 0,
      spoolBytes: 0,
    };
    const report = this.overflow;
    report.batchesLost++;
    report.eventsLost += events.length;
    report.totalEventsLost = this.totalEventsLost;
    for (const event of events) {
      const reason = `memory-full.${eventKind(event)}`;
      report.lostByReason[reason] = (report.lostByReason[reason] ?? 0) + 1;
      if (!event.timestampUs) continue;
      report.oldestLostUs = report.oldestLostUs
        ? Math.min(report.oldestLostUs, event.timestampUs)
        : event.timestampUs;
      report.newestLostUs = Math.max(report.newestLostUs, event.timestampUs);
    }
  }
}
