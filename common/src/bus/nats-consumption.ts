import type { ConsumerMessages, JetStreamClient, JsMsg } from "@nats-io/jetstream";
import { compare, type NatsConnection, parseSemVer } from "@nats-io/transport-node";
import { ErrorCodes, VigilError } from "../errors";
import type { ConsumerRunner, Delivery } from "./consumer-runner";
import type { Consumption } from "./types";

// One member of a durable pull consumer. It pulls at most maxInFlight messages
// at a time and takes the next one from the client's buffer only when a slot
// is free; the nats.js consume() loop underneath re-pulls after reconnects and
// server restarts.

const RETRY_MIN_MS = 250;
const RETRY_MAX_MS = 10_000;
const MSG_ID_HEADER = "nats-msg-id";
/** Older servers take only a bare "+TERM" and would treat "+TERM reason" as no ack at all. */
const TERM_REASON_SINCE = parseSemVer("2.10.4");

export class NatsConsumption implements Consumption {
  private stopRequested = false;
  private stopping: Promise<void> | undefined;
  private messages: ConsumerMessages | undefined;
  private loop: Promise<void> = Promise.resolve();
  private wakeRetry: (() => void) | undefined;

  constructor(
    private readonly js: JetStreamClient,
    private readonly nc: NatsConnection,
    private readonly runner: ConsumerRunner,
    /** Re-declares the durable, e.g. after someone deleted it. */
    private readonly recreateConsumer: () => Promise<void>,
    private readonly onStopped: (c: NatsConsumption) => void,
  ) {}

  start(): void {
    this.loop = this.run();
  }

  stop(): Promise<void> {
    if (!this.stopping) {
      this.stopRequested = true;
      this.runner.wake();
      this.wakeRetry?.();
      this.stopping = (async () => {
        await this.messages?.close();
        await this.loop;
        await this.runner.settled();
        this.onStopped(this);
      })();
    }
    return this.stopping;
  }

  private async run(): Promise<void> {
    const { stream, durable, maxInFlight } = this.runner.options;
    let failures = 0;
    while (!this.stopRequested && !this.nc.isClosed()) {
      try {
        const consumer = await this.js.consumers.get(stream, durable);
        const messages = await consumer.consume({ max_messages: maxInFlight });
        this.messages = messages;
        if (this.stopRequested) await messages.close();
        void this.watchStatus(messages);
        failures = 0;
        await this.take(messages);
      } catch (error) {
        if (this.stopRequested || this.nc.isClosed()) break;
        failures++;
        this.runner.logger.error({ err: error, stream, durable, failures }, "bus consumer failed; retrying");
        await this.pause(Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** Math.min(failures, 6)));
      }
    }
  }

  private async take(messages: ConsumerMessages): Promise<void> {
    for await (const message of messages) {
      if (this.stopRequested) {
        this.handBack(message);
        continue;
      }
      this.runner.dispatch(new NatsDelivery(message, this.nc));
      await this.runner.waitForSlot();
    }
  }

  /** Buffered but never handled: give it straight back to the other members. */
  private handBack(message: JsMsg): void {
    const { maxDeliver, stream, durable } = this.runner.options;
    if (message.info.deliveryCount >= maxDeliver) {
      // The server would not redeliver it either; say so rather than lose it quietly.
      this.runner.logger.error(
        { stream, durable, subject: message.subject, seq: message.seq, maxDeliver },
        "bus message terminated: maxDeliver reached while the consumer was stopping",
      );
      safely(() => new NatsDelivery(message, this.nc).term("consumer stopped on the last allowed delivery"));
      return;
    }
    safely(() => message.nak());
  }

  private async watchStatus(messages: ConsumerMessages): Promise<void> {
    const { stream, durable } = this.runner.options;
    for await (const status of messages.status()) {
      if (status.type === "consumer_not_found" || status.type === "consumer_deleted") {
        this.runner.logger.warn(
          { stream, durable, status: status.type },
          "bus consumer missing; re-creating it",
        );
        await this.recreateConsumer().catch((error: unknown) => {
          this.runner.logger.error({ err: error, stream, durable }, "bus consumer could not be re-created");
        });
      } else if (status.type === "stream_not_found") {
        this.runner.logger.error({ stream, durable }, "bus stream missing; waiting for it to come back");
      }
    }
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wakeRetry = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}

class NatsDelivery implements Delivery {
  readonly subject: string;
  readonly data: Uint8Array;
  readonly msgId: string | undefined;
  readonly headers: Record<string, string> = {};
  readonly deliveryCount: number;
  readonly seq: number;

  constructor(
    private readonly message: JsMsg,
    private readonly nc: NatsConnection,
  ) {
    this.subject = message.subject;
    this.data = message.data;
    this.deliveryCount = message.info.deliveryCount;
    this.seq = message.seq;
    let msgId: string | undefined;
    if (message.headers) {
      for (const [key, values] of message.headers) {
        const value = values[values.length - 1] ?? "";
        if (key.toLowerCase() === MSG_ID_HEADER) msgId = value;
        else this.headers[key] = value;
      }
    }
    this.msgId = msgId;
  }

  async ack(): Promise<void> {
    try {
      await this.message.ackAck();
    } catch (error) {
      throw new VigilError(
        ErrorCodes.BUS_UNAVAILABLE,
        `ack of ${this.message.info.stream} seq ${this.seq} not confirmed (it will be redelivered): ${String(error)}`,
        { cause: error },
      );
    }
  }

  nak(delayMs?: number): void {
    safely(() => this.message.nak(delayMs));
  }

  term(reason: string): void {
    const version = this.nc.info?.version;
    const withReason = version !== undefined && compare(parseSemVer(version), TERM_REASON_SINCE) >= 0;
    safely(() => this.message.term(withReason ? reason : undefined));
  }
}

/** nak/term on a closed connection throw; the server redelivers after ackWait anyway. */
function safely(action: () => void): void {
  try {
    action();
  } catch {
    // ignored on purpose: see above
  }
}
