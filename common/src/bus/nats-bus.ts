import {
  AckPolicy,
  type ConsumerConfig,
  DeliverPolicy,
  DiscardPolicy,
  type JetStreamClient,
  type JetStreamManager,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
  type StreamConfig,
} from "@nats-io/jetstream";
import {
  connect,
  headers as createHeaders,
  type NatsConnection,
  nanos,
  RequestError,
} from "@nats-io/transport-node";
import { ErrorCodes, VigilError } from "../errors";
import { openNatsKv } from "../kv/nats-kv";
import type { KvBucket, KvBucketSpec } from "../kv/types";
import type { Logger } from "../observability/logger";
import { ConsumerRunner } from "./consumer-runner";
import {
  DEFAULT_MAX_MEMBERS_PER_DURABLE,
  DEFAULT_NATS_REQUEST_TIMEOUT_MS,
  type NatsBusOptions,
  toConnectionOptions,
} from "./nats-bus-options";
import { NatsConsumption } from "./nats-consumption";
import { readNatsStream } from "./nats-stream-reader";
import { validateConsumeOptions, validateReadStreamOptions, validateStreamSpec } from "./stream-spec";
import type {
  Bus,
  ConsumeOptions,
  ConsumerState,
  Consumption,
  MessageHandler,
  PublishAck,
  PublishOptions,
  ReadStreamOptions,
  StoredMessage,
  StreamSpec,
  Subscription,
} from "./types";

// The distributed-mode bus: JetStream streams with file storage, publishes
// deduplicated by Nats-Msg-Id, and durable pull consumers shared by every
// instance of a program (a work queue with explicit acks).

/** JetStream's "stream not found" API error code. */
const STREAM_NOT_FOUND = 10059;
const CONSUMER_NOT_FOUND = 10014;
/** Bound on close(): a drain that cannot reach the server must not hang shutdown. */
const DRAIN_TIMEOUT_MS = 5000;

export class NatsBus implements Bus {
  readonly kind = "nats" as const;
  private connected = true;
  private closing = false;
  private readonly consumptions = new Set<NatsConsumption>();
  private readonly logger: Logger;
  private readonly js: JetStreamClient;

  constructor(
    private readonly nc: NatsConnection,
    private readonly jsm: JetStreamManager,
    private readonly options: NatsBusOptions,
  ) {
    this.logger = options.logger;
    this.js = jsm.jetstream();
    void this.watchConnection();
  }

  async ensureStreams(specs: StreamSpec[]): Promise<void> {
    this.assertOpen();
    for (const spec of specs) validateStreamSpec(spec);
    for (const spec of specs) await this.ensureStream(spec);
  }

  maxMessageBytes(): number {
    // The server announces its limit on connect; 1 MiB is NATS's default.
    return this.nc.info?.max_payload ?? 1024 * 1024;
  }

  async publish(subject: string, data: Uint8Array, options: PublishOptions = {}): Promise<PublishAck> {
    this.assertOpen();
    let headers: ReturnType<typeof createHeaders> | undefined;
    try {
      if (options.headers && Object.keys(options.headers).length > 0) {
        headers = createHeaders();
        for (const [key, value] of Object.entries(options.headers)) headers.set(key, value);
      }
      const ack = await this.js.publish(subject, data, {
        ...(options.msgId !== undefined ? { msgID: options.msgId } : {}),
        ...(headers ? { headers } : {}),
      });
      return { stream: ack.stream, seq: ack.seq, duplicate: ack.duplicate };
    } catch (error) {
      throw new VigilError(
        ErrorCodes.BUS_PUBLISH,
        `publish to "${subject}": ${describePublishError(error)}`,
        {
          cause: error,
        },
      );
    }
  }

  async consume(options: ConsumeOptions, handler: MessageHandler): Promise<Consumption> {
    this.assertOpen();
    validateConsumeOptions(options);
    await this.ensureConsumer(options);
    const runner = new ConsumerRunner(options, handler, this.logger);
    const consumption = new NatsConsumption(
      this.js,
      this.nc,
      runner,
      () => this.ensureConsumer(options),
      (c) => this.consumptions.delete(c),
    );
    this.consumptions.add(consumption);
    consumption.start();
    return consumption;
  }

  async consumerState(stream: string, durable: string): Promise<ConsumerState | undefined> {
    this.assertOpen();
    try {
      const info = await this.jsm.consumers.info(stream, durable);
      return {
        pending: info.num_pending,
        ackPending: info.num_ack_pending,
        redelivered: info.num_redelivered,
        waiting: info.num_waiting,
      };
    } catch (error) {
      if (isApiError(error, STREAM_NOT_FOUND) || isApiError(error, CONSUMER_NOT_FOUND)) return undefined;
      throw new VigilError(
        ErrorCodes.BUS_STREAM,
        `consumer ${durable} on stream ${stream}: ${errorMessage(error)}`,
        {
          cause: error,
        },
      );
    }
  }

  async readStream(stream: string, options: ReadStreamOptions): Promise<StoredMessage[]> {
    this.assertOpen();
    validateReadStreamOptions(stream, options);
    return readNatsStream(this.js, this.jsm, stream, options);
  }

  async openKv(spec: KvBucketSpec): Promise<KvBucket> {
    this.assertOpen();
    return openNatsKv(this.js, spec, {
      replicas: this.options.replicas ?? 1,
      logger: this.logger,
      isOpen: () => !this.closing && !this.nc.isClosed(),
    });
  }

  subscribe(subject: string, handler: (subject: string, data: Uint8Array) => void): Subscription {
    this.assertOpen();
    const sub = this.nc.subscribe(subject, {
      callback: (error, msg) => {
        if (error) {
          this.logger.warn({ err: error, subject }, "bus subscription failed");
          return;
        }
        try {
          handler(msg.subject, msg.data);
        } catch (handlerError) {
          this.logger.warn({ err: handlerError, subject: msg.subject }, "bus subscriber threw");
        }
      },
    });
    return {
      unsubscribe: () => {
        if (!this.nc.isClosed() && !sub.isClosed()) sub.unsubscribe();
      },
    };
  }

  isHealthy(): boolean {
    return this.connected && !this.closing && !this.nc.isClosed();
  }

  async close(): Promise<void> {
    if (this.closing) {
      await this.nc.closed();
      return;
    }
    this.closing = true;
    await Promise.all([...this.consumptions].map((c) => c.stop()));
    if (this.nc.isClosed()) return;
    // Drain flushes pending acks and publishes; a server that is gone gets a plain close.
    const drained = this.connected ? this.nc.drain().then(() => true) : Promise.resolve(false);
    const timeout = new Promise<boolean>((resolve) => setTimeout(resolve, DRAIN_TIMEOUT_MS, false).unref());
    const ok = await Promise.race([drained.catch(() => false), timeout]);
    if (!ok && !this.nc.isClosed()) await this.nc.close();
  }

  private async ensureStream(spec: StreamSpec): Promise<void> {
    const config = {
      name: spec.name,
      subjects: [...spec.subjects],
      storage: StorageType.File,
      retention: RetentionPolicy.Limits,
      discard: DiscardPolicy.Old,
      num_replicas: this.options.replicas ?? 1,
      max_age: nanos(spec.maxAgeMs),
      max_bytes: spec.maxBytes > 0 ? spec.maxBytes : -1,
      // 0 lets the server pick its default (2 minutes, capped by max_age).
      ...(spec.duplicateWindowMs > 0 ? { duplicate_window: nanos(spec.duplicateWindowMs) } : {}),
    } satisfies Partial<StreamConfig>;
    try {
      let exists = true;
      try {
        await this.jsm.streams.info(spec.name);
      } catch (error) {
        if (!isApiError(error, STREAM_NOT_FOUND)) throw error;
        exists = false;
      }
      if (!exists) {
        try {
          await this.jsm.streams.add(config);
          this.logger.info({ stream: spec.name, subjects: spec.subjects }, "bus stream created");
          return;
        } catch (error) {
          // Another instance created it first: fall through to an update.
          this.logger.debug({ err: error, stream: spec.name }, "bus stream create raced; updating");
        }
      }
      const { name: _name, storage: _storage, retention: _retention, ...update } = config;
      await this.jsm.streams.update(spec.name, update);
    } catch (error) {
      throw new VigilError(ErrorCodes.BUS_STREAM, `stream ${spec.name}: ${errorMessage(error)}`, {
        cause: error,
      });
    }
  }

  private async ensureConsumer(options: ConsumeOptions): Promise<void> {
    const members = this.options.maxMembersPerDurable ?? DEFAULT_MAX_MEMBERS_PER_DURABLE;
    const settings = {
      ack_wait: nanos(options.ackWaitMs),
      max_deliver: options.maxDeliver,
      max_ack_pending: options.maxInFlight * members,
      ...(options.filterSubject !== undefined ? { filter_subject: options.filterSubject } : {}),
    } satisfies Partial<ConsumerConfig>;
    const where = `consumer ${options.durable} on stream ${options.stream}`;
    try {
      await this.jsm.consumers.add(options.stream, {
        ...settings,
        durable_name: options.durable,
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.All,
      });
    } catch (error) {
      if (isApiError(error, STREAM_NOT_FOUND)) {
        throw new VigilError(ErrorCodes.BUS_STREAM, `${where}: stream does not exist`, { cause: error });
      }
      // The durable exists with other settings: re-declaring it updates them.
      try {
        await this.jsm.consumers.update(options.stream, options.durable, settings);
      } catch (updateError) {
        throw new VigilError(ErrorCodes.BUS_STREAM, `${where}: ${errorMessage(updateError)}`, {
          cause: updateError,
        });
      }
    }
  }

  private async watchConnection(): Promise<void> {
    void this.nc.closed().then((error) => {
      this.connected = false;
      if (error) this.logger.error({ err: error }, "bus connection closed with an error");
    });
    for await (const status of this.nc.status()) {
      if (status.type === "disconnect") {
        this.connected = false;
        this.logger.warn({ server: status.server }, "bus disconnected; reconnecting");
      } else if (status.type === "reconnect") {
        this.connected = true;
        this.logger.info({ server: status.server }, "bus reconnected");
      } else if (status.type === "error") {
        this.logger.warn({ err: status.error }, "bus server error");
      } else if (status.type === "slowConsumer") {
        this.logger.warn({ subject: status.sub.getSubject(), pending: status.pending }, "bus slow consumer");
      }
    }
  }

  private assertOpen(): void {
    if (this.closing || this.nc.isClosed()) {
      throw new VigilError(ErrorCodes.BUS_UNAVAILABLE, "the NATS bus is closed");
    }
  }
}

function isApiError(error: unknown, code: number): boolean {
  return error instanceof Error && "code" in error && (error as { code: unknown }).code === code;
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function describePublishError(error: unknown): string {
  // JetStream answers for every stream subject; silence means no stream has it.
  const cause = error instanceof Error ? error.cause : undefined;
  if (cause instanceof RequestError && cause.isNoResponders()) return "no stream captures this subject";
  if (error instanceof RequestError && error.isNoResponders()) return "no stream captures this subject";
  return `not confirmed by JetStream: ${errorMessage(error)}`;
}

/** Connects (TLS, auth, endless jittered reconnects) and checks that JetStream is enabled. */
export async function connectNatsBus(options: NatsBusOptions): Promise<NatsBus> {
  const connectionOptions = toConnectionOptions(options);
  const where = options.servers.join(", ");
  let nc: NatsConnection;
  try {
    nc = await connect(connectionOptions);
  } catch (error) {
    throw new VigilError(
      ErrorCodes.BUS_UNAVAILABLE,
      `cannot connect to NATS at ${where}: ${errorMessage(error)}`,
      {
        cause: error,
      },
    );
  }
  try {
    const jsm = await jetstreamManager(nc, {
      timeout: options.requestTimeoutMs ?? DEFAULT_NATS_REQUEST_TIMEOUT_MS,
    });
    options.logger.info({ servers: options.servers, name: options.name }, "bus connected to NATS");
    return new NatsBus(nc, jsm, options);
  } catch (error) {
    await nc.close();
    throw new VigilError(
      ErrorCodes.BUS_UNAVAILABLE,
      `NATS at ${where} has no JetStream (start nats-server with -js): ${errorMessage(error)}`,
      { cause: error },
    );
  }
}
