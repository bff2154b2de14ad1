import type { Logger } from "../observability/logger";
import type { BusMessage, ConsumeOptions, MessageHandler } from "./types";

// The client side of a consumer, shared by both buses so they agree on what a
// handler sees: settle-once messages, at most maxInFlight unsettled messages,
// and a final failed attempt that is terminated and logged, never dropped
// silently.

/** One delivery as a bus implementation hands it over. */
export interface Delivery {
  subject: string;
  data: Uint8Array;
  msgId: string | undefined;
  headers: Record<string, string>;
  deliveryCount: number;
  seq: number;
  /** Resolves once the bus has recorded the ack. */
  ack(): Promise<void>;
  nak(delayMs?: number): void;
  term(reason: string): void;
}

/** Redelivery delay after a handler threw without settling its message. */
export const HANDLER_ERROR_NAK_DELAY_MS = 1000;

export class ConsumerRunner {
  private inFlight = 0;
  private readonly running = new Set<Promise<void>>();
  private slotWaiter: (() => void) | undefined;

  constructor(
    readonly options: ConsumeOptions,
    private readonly handler: MessageHandler,
    readonly logger: Logger,
    /** Called whenever a slot frees up (the memory bus pushes on it). */
    private readonly onSlotFree?: () => void,
  ) {}

  hasSlot(): boolean {
    return this.inFlight < this.options.maxInFlight;
  }

  /** Resolves when a message may be taken; one waiter at a time (the fetch loop). */
  waitForSlot(): Promise<void> {
    if (this.hasSlot()) return Promise.resolve();
    return new Promise((resolve) => {
      this.slotWaiter = resolve;
    });
  }

  /** Wake a pending waitForSlot() without a free slot (used when stopping). */
  wake(): void {
    const waiter = this.slotWaiter;
    this.slotWaiter = undefined;
    waiter?.();
  }

  dispatch(delivery: Delivery): void {
    this.inFlight++;
    const message = new TrackedMessage(delivery, this);
    const run = this.runHandler(message);
    this.running.add(run);
    void run.finally(() => this.running.delete(run));
  }

  /** Resolves once every handler that was started has returned or thrown. */
  async settled(): Promise<void> {
    while (this.running.size > 0) await Promise.allSettled([...this.running]);
  }

  releaseSlot(): void {
    this.inFlight--;
    if (this.hasSlot()) this.wake();
    this.onSlotFree?.();
  }

  private async runHandler(message: TrackedMessage): Promise<void> {
    try {
      await this.handler(message);
    } catch (error) {
      if (message.isSettled()) {
        this.logger.warn(
          { err: error, ...message.logContext() },
          "bus handler threw after settling its message",
        );
        return;
      }
      this.logger.warn(
        { err: error, ...message.logContext() },
        "bus handler threw; message will be redelivered",
      );
      message.nak(HANDLER_ERROR_NAK_DELAY_MS);
    }
  }
}

/** A delivery as the handler sees it: the first ack/nak/term wins, later calls are no-ops. */
class TrackedMessage implements BusMessage {
  readonly subject: string;
  readonly data: Uint8Array;
  readonly msgId: string | undefined;
  readonly headers: Record<string, string>;
  readonly deliveryCount: number;
  readonly seq: number;
  private settledBy: "ack" | "nak" | "term" | undefined;
  private slotHeld = true;
  private ackPromise: Promise<void> | undefined;
  private readonly ackWaitTimer: NodeJS.Timeout;

  constructor(
    private readonly delivery: Delivery,
    private readonly runner: ConsumerRunner,
  ) {
    this.subject = delivery.subject;
    this.data = delivery.data;
    this.msgId = delivery.msgId;
    this.headers = delivery.headers;
    this.deliveryCount = delivery.deliveryCount;
    this.seq = delivery.seq;
    // Past ackWait the bus redelivers elsewhere, so this one no longer counts as in flight.
    this.ackWaitTimer = setTimeout(() => this.ackWaitElapsed(), runner.options.ackWaitMs);
    this.ackWaitTimer.unref();
  }

  isSettled(): boolean {
    return this.settledBy !== undefined;
  }

  ack(): Promise<void> {
    if (this.ackPromise) return this.ackPromise;
    if (this.settledBy) return Promise.resolve();
    this.settle("ack");
    this.ackPromise = this.delivery.ack();
    return this.ackPromise;
  }

  nak(delayMs?: number): void {
    if (this.settledBy) return;
    if (this.isFinalAttempt()) {
      this.terminateExhausted("nak on the last allowed delivery");
      return;
    }
    this.settle("nak");
    this.delivery.nak(delayMs);
  }

  term(reason: string): void {
    if (this.settledBy) return;
    this.settle("term");
    this.runner.logger.warn({ ...this.logContext(), reason }, "bus message terminated by its consumer");
    this.delivery.term(reason);
  }

  logContext(): Record<string, unknown> {
    const { stream, durable } = this.runner.options;
    return {
      stream,
      durable,
      subject: this.subject,
      seq: this.seq,
      msgId: this.msgId,
      deliveryCount: this.deliveryCount,
    };
  }

  private isFinalAttempt(): boolean {
    return this.deliveryCount >= this.runner.options.maxDeliver;
  }

  private terminateExhausted(why: string): void {
    this.settle("term");
    const { maxDeliver } = this.runner.options;
    this.runner.logger.error(
      { ...this.logContext(), maxDeliver, why },
      "bus message terminated: maxDeliver reached",
    );
    this.delivery.term(`maxDeliver ${maxDeliver} reached: ${why}`);
  }

  private ackWaitElapsed(): void {
    if (this.settledBy) return;
    if (this.isFinalAttempt()) {
      this.terminateExhausted("not acked within ackWait on the last allowed delivery");
      return;
    }
    // Still unsettled: a late ack/nak/term stays allowed, only the slot is returned.
    this.freeSlot();
  }

  private settle(how: "ack" | "nak" | "term"): void {
    this.settledBy = how;
    clearTimeout(this.ackWaitTimer);
    this.freeSlot();
  }

  private freeSlot(): void {
    if (!this.slotHeld) return;
    this.slotHeld = false;
    this.runner.releaseSlot();
  }
}
