import { ErrorCodes, VigilError } from "../errors";
import { MemoryKv } from "../kv/memory-kv";
import { SqliteKvStore } from "../kv/sqlite-kv-store";
import type { KvBucket, KvBucketSpec } from "../kv/types";
import { type Logger, silentLogger } from "../observability/logger";
import { ConsumerRunner } from "./consumer-runner";
import { MemoryConsumerGroup } from "./memory-consumer-group";
import { MemoryStream } from "./memory-stream";
import { validateConsumeOptions, validateReadStreamOptions, validateStreamSpec } from "./stream-spec";
import { isValidPublishSubject, subjectMatches, subjectsOverlap } from "./subject-match";
import type {
  Bus,
  ConsumeOptions,
  Consumption,
  MessageHandler,
  PublishAck,
  PublishOptions,
  ReadStreamOptions,
  StoredMessage,
  StreamSpec,
  Subscription,
} from "./types";

// The embedded-mode bus: same contract as the NATS one, inside one Node
// process. Streams do not survive a restart; KV buckets do when kvPath names
// a SQLite file; everything else (limits, dedup, work queue, redelivery)
// behaves as JetStream does.

/** Same as nats-server's default max_payload, so embedded mode behaves like a default NATS. */
export const DEFAULT_MEMORY_MAX_MESSAGE_BYTES = 1024 * 1024;

export interface MemoryBusOptions {
  logger?: Logger;
  /** Largest message accepted (default 1 MiB). */
  maxMessageBytes?: number;
  /**
   * SQLite file holding every KV bucket (the control plane), so it survives a
   * restart; unset, buckets live in memory. An unusable file fails here,
   * naming the path.
   */
  kvPath?: string;
}

interface LiveSubscriber {
  pattern: string;
  handler: (subject: string, data: Uint8Array) => void;
}

export class MemoryBus implements Bus {
  readonly kind = "memory" as const;
  private readonly streams = new Map<string, MemoryStream>();
  /** Durable consumers by "stream/durable". */
  private readonly groups = new Map<string, MemoryConsumerGroup>();
  private readonly consumptions = new Set<MemoryConsumption>();
  private subscribers: LiveSubscriber[] = [];
  private readonly buckets = new Map<string, MemoryKv>();
  private readonly kvStore: SqliteKvStore | undefined;
  private readonly logger: Logger;
  private closed = false;
  private readonly maxBytes: number;

  constructor(options: MemoryBusOptions = {}) {
    this.logger = options.logger ?? silentLogger();
    this.maxBytes = options.maxMessageBytes ?? DEFAULT_MEMORY_MAX_MESSAGE_BYTES;
    this.kvStore =
      options.kvPath === undefined
        ? undefined
        : new SqliteKvStore({ path: options.kvPath, logger: this.logger });
  }

  maxMessageBytes(): number {
    return this.maxBytes;
  }

  async ensureStreams(specs: StreamSpec[]): Promise<void> {
    this.assertOpen();
    for (const spec of specs) validateStreamSpec(spec);
    for (const spec of specs) {
      for (const other of this.streams.values()) {
        if (other.spec.name === spec.name) continue;
        const clash = spec.subjects.find((s) => other.spec.subjects.some((o) => subjectsOverlap(s, o)));
        if (clash) {
          throw new VigilError(
            ErrorCodes.BUS_STREAM,
            `stream ${spec.name}: subject "${clash}" overlaps stream ${other.spec.name}`,
          );
        }
      }
      const existing = this.streams.get(spec.name);
      if (existing) {
        existing.spec = { ...spec, subjects: [...spec.subjects] };
        existing.applyLimits(Date.now());
      } else {
        this.streams.set(spec.name, new MemoryStream({ ...spec, subjects: [...spec.subjects] }));
      }
    }
  }

  async publish(subject: string, data: Uint8Array, options: PublishOptions = {}): Promise<PublishAck> {
    this.assertOpen();
    if (!isValidPublishSubject(subject)) {
      throw new VigilError(ErrorCodes.BUS_PUBLISH, `publish to "${subject}": not a valid subject`);
    }
    if (data.byteLength > this.maxBytes) {
      throw new VigilError(
        ErrorCodes.BUS_PUBLISH,
        `publish to "${subject}": message of ${data.byteLength} bytes exceeds the ${this.maxBytes}-byte limit`,
      );
    }
    const stream = this.streamFor(subject);
    if (!stream) {
      throw new VigilError(
        ErrorCodes.BUS_PUBLISH,
        `publish to "${subject}": no stream captures this subject`,
      );
    }
    const ack = stream.store(subject, data, options.msgId, options.headers ?? {});
    // A core NATS tail sees every publish, duplicates included.
    this.notifySubscribers(subject, data);
    if (!ack.duplicate) {
      for (const group of this.groups.values()) group.schedulePump();
    }
    return ack;
  }

  async consume(options: ConsumeOptions, handler: MessageHandler): Promise<Consumption> {
    this.assertOpen();
    validateConsumeOptions(options);
    const stream = this.streams.get(options.stream);
    if (!stream) {
      throw new VigilError(
        ErrorCodes.BUS_STREAM,
        `consumer ${options.durable}: stream ${options.stream} does not exist`,
      );
    }
    const key = `${options.stream}/${options.durable}`;
    let group = this.groups.get(key);
    if (group) {
      // JetStream updates a durable's config when it is re-declared; so do we.
      group.options = { ...options };
    } else {
      group = new MemoryConsumerGroup(stream, { ...options });
      this.groups.set(key, group);
    }
    const shared = group;
    const runner = new ConsumerRunner(options, handler, this.logger, () => shared.schedulePump());
    const consumption = new MemoryConsumption(group, runner, (c) => this.consumptions.delete(c));
    this.consumptions.add(consumption);
    group.join(runner);
    return consumption;
  }

  async readStream(name: string, options: ReadStreamOptions): Promise<StoredMessage[]> {
    this.assertOpen();
    validateReadStreamOptions(name, options);
    const stream = this.streams.get(name);
    if (!stream) throw new VigilError(ErrorCodes.BUS_STREAM, `read of stream ${name}: stream does not exist`);
    const from = options.startSeq ?? stream.firstSeq();
    const since = options.startSeq === undefined ? (options.startTimeMs ?? 0) : 0;
    return stream.read(from, options.subject, since, options.limit).map((m) => ({
      subject: m.subject,
      data: m.data.slice(),
      headers: { ...m.headers },
      seq: m.seq,
      timeMs: m.storedAt,
    }));
  }

  async openKv(spec: KvBucketSpec): Promise<KvBucket> {
    this.assertOpen();
    if (this.kvStore) return this.kvStore.openBucket(spec);
    let bucket = this.buckets.get(spec.name);
    if (bucket) bucket.reconfigure(spec);
    else {
      bucket = new MemoryKv(spec, this.logger);
      this.buckets.set(spec.name, bucket);
    }
    return bucket;
  }

  subscribe(subject: string, handler: (subject: string, data: Uint8Array) => void): Subscription {
    this.assertOpen();
    const subscriber: LiveSubscriber = { pattern: subject, handler };
    this.subscribers.push(subscriber);
    return {
      unsubscribe: () => {
        this.subscribers = this.subscribers.filter((s) => s !== subscriber);
      },
    };
  }

  isHealthy(): boolean {
    return !this.closed;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.subscribers = [];
    for (const bucket of this.buckets.values()) bucket.close();
    this.kvStore?.close();
    await Promise.all([...this.consumptions].map((c) => c.stop()));
    for (const group of this.groups.values()) group.close();
    this.groups.clear();
  }

  private streamFor(subject: string): MemoryStream | undefined {
    for (const stream of this.streams.values()) {
      if (stream.captures(subject)) return stream;
    }
    return undefined;
  }

  private notifySubscribers(subject: string, data: Uint8Array): void {
    for (const subscriber of this.subscribers) {
      if (!subjectMatches(subscriber.pattern, subject)) continue;
      const copy = data.slice();
      // Never inside publish: a tail handler must not run on the publisher's stack.
      setImmediate(() => {
        if (!this.subscribers.includes(subscriber)) return;
        try {
          subscriber.handler(subject, copy);
        } catch (error) {
          this.logger.warn({ err: error, subject }, "bus subscriber threw");
        }
      });
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new VigilError(ErrorCodes.BUS_UNAVAILABLE, "the in-process bus is closed");
  }
}

class MemoryConsumption implements Consumption {
  private stopping: Promise<void> | undefined;

  constructor(
    private readonly group: MemoryConsumerGroup,
    private readonly runner: ConsumerRunner,
    private readonly onStopped: (c: MemoryConsumption) => void,
  ) {}

  stop(): Promise<void> {
    if (!this.stopping) {
      // Messages this member holds stay pending in the group and come back after ackWait.
      this.group.leave(this.runner);
      this.stopping = this.runner.settled().then(() => this.onStopped(this));
    }
    return this.stopping;
  }
}

/** An in-process bus for embedded mode (one Node process; KV persisted only with kvPath). */
export function createMemoryBus(options: MemoryBusOptions = {}): MemoryBus {
  return new MemoryBus(options);
}
