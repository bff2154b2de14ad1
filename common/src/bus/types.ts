// The Bus is how the server tier hands events to the hub tier and how hubs
// publish alerts. Two implementations pass one contract suite: NATS JetStream
// (distributed mode) and in-process (embedded mode, one Node process).

import type { KvBucket, KvBucketSpec } from "../kv/types";

/** A subject-to-stream binding. Every durable publish lands in exactly one stream. */
export interface StreamSpec {
  /** Stream name, e.g. "VIGIL_EVENTS". */
  name: string;
  /** Subjects captured, NATS wildcard syntax ("vigil.events.>"). */
  subjects: string[];
  /** Window in which a repeated msgId is dropped as a duplicate. */
  duplicateWindowMs: number;
  /** Oldest messages are discarded beyond these bounds (0 = unbounded). */
  maxAgeMs: number;
  maxBytes: number;
}

export interface PublishOptions {
  /** Dedup id: a second publish with the same id inside the window is a no-op. */
  msgId?: string;
  headers?: Record<string, string>;
}

export interface PublishAck {
  stream: string;
  /** Stream sequence of the stored message (the original one for a duplicate). */
  seq: number;
  duplicate: boolean;
}

export interface BusMessage {
  subject: string;
  data: Uint8Array;
  msgId: string | undefined;
  headers: Record<string, string>;
  /** 1 on first delivery, >1 when redelivered after a nak or ack timeout. */
  deliveryCount: number;
  /** Stream sequence; lets a consumer order or dedup. */
  seq: number;
  ack(): Promise<void>;
  /** Ask for redelivery after delayMs (to any member of the group). */
  nak(delayMs?: number): void;
  /** Never redeliver (poison message); the consumer has recorded why. */
  term(reason: string): void;
}

export interface ConsumeOptions {
  stream: string;
  /** Durable name shared by all instances: each message goes to one of them. */
  durable: string;
  filterSubject?: string;
  /** Unacked messages in flight per instance. */
  maxInFlight: number;
  /** Redeliver a message not acked within this time. */
  ackWaitMs: number;
  /** Stop redelivering after this many attempts (the message is then terminated). */
  maxDeliver: number;
}

/** A message read back from a stream (readStream), not consumed. */
export interface StoredMessage {
  subject: string;
  data: Uint8Array;
  headers: Record<string, string>;
  seq: number;
  /** When the stream stored it (ms since epoch). */
  timeMs: number;
}

export interface ReadStreamOptions {
  /** Only messages on this subject (wildcards allowed). */
  subject?: string;
  /** First sequence to return (default the oldest stored). */
  startSeq?: number;
  /** Only messages stored at or after this time (ms since epoch); ignored with startSeq. */
  startTimeMs?: number;
  /** At most this many messages (1..10000). */
  limit: number;
}

/** A durable consumer's backlog, for status pages (`vigil status`). */
export interface ConsumerState {
  /** Stored and not yet delivered to any member. */
  pending: number;
  /** Delivered and not yet acked. */
  ackPending: number;
  /** Delivered more than once. */
  redelivered: number;
  /** Pull requests waiting for messages: about one per member instance with room for more. */
  waiting: number;
}

export type MessageHandler = (message: BusMessage) => Promise<void>;

export interface Consumption {
  /** Stop fetching; resolves once in-flight handlers have settled. */
  stop(): Promise<void>;
}

export interface Subscription {
  unsubscribe(): void;
}

export interface Bus {
  readonly kind: "nats" | "memory";
  /** Create or update streams (idempotent). */
  ensureStreams(streams: StreamSpec[]): Promise<void>;
  /** Durable publish: resolves only once the bus has stored the message. */
  publish(subject: string, data: Uint8Array, options?: PublishOptions): Promise<PublishAck>;
  /** Work-queue consumption through a durable consumer shared by all instances. */
  consume(options: ConsumeOptions, handler: MessageHandler): Promise<Consumption>;
  /** Live, non-durable tail of a subject pattern (notifiers, CLI). */
  subscribe(subject: string, handler: (subject: string, data: Uint8Array) => void): Subscription;
  /**
   * Reads stored messages in sequence order without consuming them (querying an
   * append-only stream such as the audit trail). Bounded by `limit`.
   */
  readStream(stream: string, options: ReadStreamOptions): Promise<StoredMessage[]>;
  /** Creates or binds a key-value bucket (idempotent; a re-declared spec updates its limits). */
  openKv(spec: KvBucketSpec): Promise<KvBucket>;
  /** A durable consumer's backlog; undefined when it does not exist. Absent on the in-process bus. */
  consumerState?(stream: string, durable: string): Promise<ConsumerState | undefined>;
  /** Largest message the bus accepts (NATS max_payload); publishers split above it. */
  maxMessageBytes(): number;
  /** Health for /healthz. */
  isHealthy(): boolean;
  close(): Promise<void>;
}
