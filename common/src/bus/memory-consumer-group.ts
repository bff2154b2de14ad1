import { ErrorCodes, VigilError } from "../errors";
import type { ConsumerRunner, Delivery } from "./consumer-runner";
import type { MemoryStream, StreamRecord } from "./memory-stream";
import type { ConsumeOptions } from "./types";

// The "server side" of an in-process durable consumer, mirroring a JetStream
// pull consumer with explicit ack: one cursor and one pending set shared by all
// members, each message handed to exactly one member with a free slot (round
// robin), redelivered after ackWait or nak(delay) until maxDeliver.

interface Pending {
  deliveryCount: number;
  timer: NodeJS.Timeout;
}

interface Redelivery {
  deliveryCount: number;
  notBefore: number;
}

export class MemoryConsumerGroup {
  private cursor: number;
  private readonly pending = new Map<number, Pending>();
  /** Messages waiting to be redelivered, by stream sequence. */
  private readonly redeliveries = new Map<number, Redelivery>();
  private members: ConsumerRunner[] = [];
  private nextMember = 0;
  private pumpScheduled = false;
  private wakeTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly stream: MemoryStream,
    public options: ConsumeOptions,
  ) {
    this.cursor = stream.firstSeq();
  }

  join(member: ConsumerRunner): void {
    this.members.push(member);
    this.schedulePump();
  }

  leave(member: ConsumerRunner): void {
    this.members = this.members.filter((m) => m !== member);
  }

  /** New data or a free slot: deliver what can be delivered, after the current tick. */
  schedulePump(): void {
    if (this.pumpScheduled || this.closed) return;
    this.pumpScheduled = true;
    setImmediate(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  close(): void {
    this.closed = true;
    for (const entry of this.pending.values()) clearTimeout(entry.timer);
    this.pending.clear();
    this.redeliveries.clear();
    clearTimeout(this.wakeTimer);
  }

  private pump(): void {
    if (this.closed) return;
    for (;;) {
      const member = this.memberWithSlot();
      if (!member) return;
      const next = this.takeNext();
      if (!next) break;
      this.deliver(member, next.message, next.deliveryCount);
    }
    this.armWakeTimer();
  }

  private memberWithSlot(): ConsumerRunner | undefined {
    for (let i = 0; i < this.members.length; i++) {
      const member = this.members[(this.nextMember + i) % this.members.length];
      if (member.hasSlot()) {
        this.nextMember = (this.nextMember + i + 1) % this.members.length;
        return member;
      }
    }
    return undefined;
  }

  /** Due redeliveries first (oldest sequence first), then new messages. */
  private takeNext(): { message: StreamRecord; deliveryCount: number } | undefined {
    const now = Date.now();
    let dueSeq: number | undefined;
    for (const [seq, entry] of this.redeliveries) {
      if (entry.notBefore <= now && (dueSeq === undefined || seq < dueSeq)) dueSeq = seq;
    }
    while (dueSeq !== undefined) {
      const entry = this.redeliveries.get(dueSeq) as Redelivery;
      this.redeliveries.delete(dueSeq);
      const message = this.stream.get(dueSeq);
      // Discarded by the stream's limits meanwhile: nothing left to redeliver.
      if (message) return { message, deliveryCount: entry.deliveryCount + 1 };
      dueSeq = undefined;
      for (const [seq, other] of this.redeliveries) {
        if (other.notBefore <= now && (dueSeq === undefined || seq < dueSeq)) dueSeq = seq;
      }
    }
    const message = this.stream.next(this.cursor, this.options.filterSubject);
    if (!message) {
      this.cursor = Math.max(this.cursor, this.stream.lastSequence() + 1);
      return undefined;
    }
    this.cursor = message.seq + 1;
    return { message, deliveryCount: 1 };
  }

  private deliver(member: ConsumerRunner, message: StreamRecord, deliveryCount: number): void {
    const seq = message.seq;
    const entry: Pending = {
      deliveryCount,
      timer: setTimeout(() => this.ackWaitElapsed(seq, entry), this.options.ackWaitMs),
    };
    entry.timer.unref();
    this.pending.set(seq, entry);
    member.dispatch(new MemoryDelivery(this, message, entry));
  }

  private ackWaitElapsed(seq: number, entry: Pending): void {
    if (this.pending.get(seq) !== entry) return;
    this.pending.delete(seq);
    // Past maxDeliver the member terminates and logs it; the group just stops.
    if (entry.deliveryCount < this.options.maxDeliver) {
      this.redeliveries.set(seq, { deliveryCount: entry.deliveryCount, notBefore: 0 });
    }
    this.schedulePump();
  }

  ack(seq: number): Promise<void> {
    if (this.closed) {
      return Promise.reject(new VigilError(ErrorCodes.BUS_UNAVAILABLE, `bus closed: cannot ack seq ${seq}`));
    }
    // Like JetStream, a late ack still counts, even after ackWait sent it for redelivery.
    const entry = this.pending.get(seq);
    if (entry) {
      clearTimeout(entry.timer);
      this.pending.delete(seq);
    }
    this.redeliveries.delete(seq);
    return Promise.resolve();
  }

  nak(seq: number, entry: Pending, delayMs: number): void {
    if (this.pending.get(seq) !== entry) return;
    clearTimeout(entry.timer);
    this.pending.delete(seq);
    if (entry.deliveryCount < this.options.maxDeliver) {
      this.redeliveries.set(seq, { deliveryCount: entry.deliveryCount, notBefore: Date.now() + delayMs });
    }
    this.schedulePump();
  }

  term(seq: number, entry: Pending): void {
    if (this.pending.get(seq) !== entry) return;
    clearTimeout(entry.timer);
    this.pending.delete(seq);
  }

  /** A nak(delay) is due later: make sure something pumps then. */
  private armWakeTimer(): void {
    clearTimeout(this.wakeTimer);
    this.wakeTimer = undefined;
    let earliest = Number.POSITIVE_INFINITY;
    for (const entry of this.redeliveries.values()) earliest = Math.min(earliest, entry.notBefore);
    if (earliest === Number.POSITIVE_INFINITY) return;
    this.wakeTimer = setTimeout(() => this.schedulePump(), Math.max(0, earliest - Date.now()));
    this.wakeTimer.unref();
  }
}

class MemoryDelivery implements Delivery {
  readonly subject: string;
  readonly data: Uint8Array;
  readonly msgId: string | undefined;
  readonly headers: Record<string, string>;
  readonly deliveryCount: number;
  readonly seq: number;

  constructor(
    private readonly group: MemoryConsumerGroup,
    message: StreamRecord,
    private readonly entry: Pending,
  ) {
    this.subject = message.subject;
    this.data = message.data;
    this.msgId = message.msgId;
    this.headers = { ...message.headers };
    this.deliveryCount = entry.deliveryCount;
    this.seq = message.seq;
  }

  ack(): Promise<void> {
    return this.group.ack(this.seq);
  }

  nak(delayMs?: number): void {
    this.group.nak(this.seq, this.entry, delayMs ?? 0);
  }

  term(_reason: string): void {
    this.group.term(this.seq, this.entry);
  }
}
