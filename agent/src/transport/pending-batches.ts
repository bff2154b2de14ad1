import type { Event } from "@vigil/proto";

export interface PendingBatch {
  sequence: number;
  events: Event[];
  /** How many times it went out on a stream; >1 means resent. */
  attempts: number;
}

/**
 * Batches not yet acked, in sequence order. The first `sentCount` of them are
 * in flight on the current stream; a new stream starts again from the first,
 * so every unacked batch is resent in order. Bounded: beyond maxBatches the
 * oldest is dropped and reported to the caller.
 */
export class PendingBatches {
  private readonly batches: PendingBatch[] = [];
  private sentCount = 0;
  private nextSequence: number;

  constructor(
    private readonly maxBatches: number,
    firstSequence: number,
  ) {
    this.nextSequence = firstSequence;
  }

  /** Adds a batch; returns the batch dropped to make room, if any. */
  add(events: Event[]): { added: PendingBatch; dropped: PendingBatch | undefined } {
    const added: PendingBatch = { sequence: this.nextSequence++, events, attempts: 0 };
    this.batches.push(added);
    let dropped: PendingBatch | undefined;
    if (this.batches.length > this.maxBatches) {
      dropped = this.batches.shift();
      if (this.sentCount > 0) this.sentCount--;
    }
    return { added, dropped };
  }

  /** Next batch to put on the stream, if the window allows. */
  takeNextToSend(maxInFlight: number): PendingBatch | undefined {
    if (this.sentCount >= maxInFlight || this.sentCount >= this.batches.length) return undefined;
    const batch = this.batches[this.sentCount++];
    batch.attempts++;
    return batch;
  }

  /** Removes and returns an acked batch; undefined when unknown (already dropped or acked). */
  acknowledge(sequence: number): PendingBatch | undefined {
    // Acks arrive in order, so this is almost always index 0.
    const index = this.batches.findIndex((batch) => batch.sequence === sequence);
    if (index < 0) return undefined;
    const [batch] = this.batches.splice(index, 1);
    if (index < this.sentCount) this.sentCount--;
    return batch;
  }

  /** The stream is gone: everything in flight must go out again. */
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
    let count = 0;
    for (const batch of this.batches) count += batch.events.length;
    return count;
  }

  /** Highest sequence handed out so far minus the ones still pending: all below the oldest pending are acked. */
  lastAckedSequence(): number {
    return (this.batches[0]?.sequence ?? this.nextSequence) - 1;
  }
}
