import { JetStreamApiError, type JetStreamClient, StorageType } from "@nats-io/jetstream";
import { type KV, Kvm, type KvEntry as NatsKvEntry } from "@nats-io/kv";
import { nanos } from "@nats-io/transport-node";
import { ErrorCodes, VigilError } from "../errors";
import type { Logger } from "../observability/logger";
import { keyExists, revisionMismatch, valueTooLarge } from "./kv-errors";
import { validateBucketSpec, validateKey, validateKeyPattern } from "./kv-names";
import type { KvBucket, KvBucketSpec, KvEntry, KvWatch, KvWatchOptions } from "./types";

// The distributed-mode KV bucket: a NATS KV bucket (a JetStream stream
// KV_<name>, file storage) reached through the bus connection. CAS failures
// and oversize values come back as the same VigilErrors as in embedded mode.

/** JetStream: "wrong last sequence" (the CAS check of create/update/delete). */
const WRONG_LAST_SEQUENCE = [10071, 10164];
/** JetStream: "message size exceeds maximum allowed". */
const MESSAGE_TOO_LARGE = 10054;
/**
 * The stream's max_msg_size counts headers too (a CAS update carries one), so
 * the stream allows this much more and the value itself is checked here.
 */
const HEADER_ALLOWANCE_BYTES = 1024;
/** Keys read at once when a watch delivers its initial values. */
const INITIAL_READ_CONCURRENCY = 64;

export interface NatsKvOptions {
  replicas: number;
  logger: Logger;
  /** False once the bus is closed: operations then fail with VIGIL_ERR_BUS_UNAVAILABLE. */
  isOpen: () => boolean;
}

/** Creates the bucket, or binds to it and applies `spec` when it exists already. */
export async function openNatsKv(
  js: JetStreamClient,
  spec: KvBucketSpec,
  options: NatsKvOptions,
): Promise<KvBucket> {
  validateBucketSpec(spec);
  const limits = {
    history: spec.history,
    ttl: spec.ttlMs,
    maxValueSize: spec.maxValueBytes + HEADER_ALLOWANCE_BYTES,
    storage: StorageType.File,
    replicas: options.replicas,
  };
  try {
    const kv = await new Kvm(js).create(spec.name, limits);
    // Kvm.create binds to an existing bucket as it is; bring its limits up to date.
    const jsm = await js.jetstreamManager();
    const stream = `KV_${spec.name}`;
    const { config } = await jsm.streams.info(stream);
    const maxAge = nanos(spec.ttlMs);
    if (
      config.max_msgs_per_subject !== limits.history ||
      config.max_age !== maxAge ||
      config.max_msg_size !== limits.maxValueSize
    ) {
      await jsm.streams.update(stream, {
        ...config,
        max_msgs_per_subject: limits.history,
        max_age: maxAge,
        max_msg_size: limits.maxValueSize,
      });
      options.logger.info({ bucket: spec.name }, "kv bucket limits updated");
    }
    return new NatsKv(kv, spec, options);
  } catch (error) {
    throw new VigilError(ErrorCodes.BUS_STREAM, `kv bucket "${spec.name}": ${errorMessage(error)}`, {
      cause: error,
    });
  }
}

class NatsKv implements KvBucket {
  readonly name: string;

  private readonly logger: Logger;

  constructor(
    private readonly kv: KV,
    private readonly spec: KvBucketSpec,
    private readonly options: NatsKvOptions,
  ) {
    this.name = spec.name;
    this.logger = options.logger;
  }

  async get(key: string): Promise<KvEntry | undefined> {
    this.assertOpen();
    validateKey(this.name, key);
    const entry = await this.kv.get(key);
    return entry && entry.operation === "PUT" ? toEntry(entry) : undefined;
  }

  async put(key: string, value: Uint8Array): Promise<number> {
    this.checkWrite(key, value);
    return this.mapErrors(key, () => this.kv.put(key, value));
  }

  async create(key: string, value: Uint8Array): Promise<number> {
    this.checkWrite(key, value);
    return this.mapErrors(
      key,
      () => this.kv.create(key, value),
      () => keyExists(this.name, key),
    );
  }

  async update(key: string, value: Uint8Array, expectedRevision: number): Promise<number> {
    this.checkWrite(key, value);
    if (!Number.isInteger(expectedRevision) || expectedRevision < 1) {
      throw revisionMismatch(this.name, key, expectedRevision);
    }
    return this.mapErrors(
      key,
      () => this.kv.update(key, value, expectedRevision),
      () => revisionMismatch(this.name, key, expectedRevision),
    );
  }

  async delete(key: string, expectedRevision?: number): Promise<void> {
    this.assertOpen();
    validateKey(this.name, key);
    await this.mapErrors(
      key,
      () => this.kv.delete(key, expectedRevision !== undefined ? { previousSeq: expectedRevision } : {}),
      () => revisionMismatch(this.name, key, expectedRevision ?? 0),
    );
  }

  async keys(pattern = ">"): Promise<string[]> {
    this.assertOpen();
    validateKeyPattern(this.name, pattern);
    const found = new Set<string>();
    for await (const key of await this.kv.keys(pattern)) found.add(key);
    return [...found].sort();
  }

  async history(key: string): Promise<KvEntry[]> {
    this.assertOpen();
    validateKey(this.name, key);
    const entries: KvEntry[] = [];
    for await (const entry of await this.kv.history({ key })) entries.push(toEntry(entry));
    return entries.sort((a, b) => a.revision - b.revision);
  }

  async watch(options: KvWatchOptions, onEntry: (entry: KvEntry) => void): Promise<KvWatch> {
    this.assertOpen();
    const pattern = options.key ?? ">";
    validateKeyPattern(this.name, pattern);
    const deliver = (entry: KvEntry) => {
      try {
        onEntry(entry);
      } catch (error) {
        this.logger.warn({ err: error, bucket: this.name, key: entry.key }, "kv watcher threw");
      }
    };
    // Revision last delivered per key present. With initial values, the current
    // values are read and delivered before this resolves (a NATS watch hands
    // its initial values over later, and does not say when it is done); the
    // watch then starts just after the stream's last revision as it was before
    // the read, so a change made during the read is not missed, and what the
    // read delivered already is dropped. A tombstone of a key never delivered
    // is not news either.
    const delivered = new Map<string, number>();
    let resumeFromRevision: number | undefined;
    if (options.initialValues) {
      resumeFromRevision = (await this.kv.status()).streamInfo.state.last_seq + 1;
      const keys = await this.keys(pattern);
      const current: KvEntry[] = [];
      for (let i = 0; i < keys.length; i += INITIAL_READ_CONCURRENCY) {
        const entries = await Promise.all(
          keys.slice(i, i + INITIAL_READ_CONCURRENCY).map((key) => this.get(key)),
        );
        for (const entry of entries) if (entry) current.push(entry);
      }
      current.sort((a, b) => a.revision - b.revision);
      for (const entry of current) {
        delivered.set(entry.key, entry.revision);
        deliver(entry);
      }
    }
    const iterator = await this.kv.watch(
      resumeFromRevision === undefined
        ? { key: pattern, include: "updates" }
        : { key: pattern, resumeFromRevision },
    );
    void (async () => {
      try {
        for await (const entry of iterator) {
          const known = delivered.get(entry.key);
          if (known !== undefined && known >= entry.revision) continue;
          if (entry.operation === "PUT") delivered.set(entry.key, entry.revision);
          else if (!delivered.delete(entry.key) && options.initialValues) continue;
          deliver(toEntry(entry));
        }
      } catch (error) {
        this.logger.warn({ err: error, bucket: this.name, pattern }, "kv watch ended with an error");
      }
    })();
    return { stop: () => iterator.stop() };
  }

  private assertOpen(): void {
    if (!this.options.isOpen()) {
      throw new VigilError(ErrorCodes.BUS_UNAVAILABLE, `kv bucket "${this.name}": the NATS bus is closed`);
    }
  }

  private checkWrite(key: string, value: Uint8Array): void {
    this.assertOpen();
    validateKey(this.name, key);
    if (value.byteLength > this.spec.maxValueBytes) {
      throw valueTooLarge(this.name, key, value.byteLength, this.spec.maxValueBytes);
    }
  }

  private async mapErrors<T>(key: string, write: () => Promise<T>, conflict?: () => VigilError): Promise<T> {
    try {
      return await write();
    } catch (error) {
      if (error instanceof JetStreamApiError) {
        if (conflict && WRONG_LAST_SEQUENCE.includes(error.code)) {
          const mapped = conflict();
          throw new VigilError(mapped.code, mapped.message, { cause: error });
        }
        if (error.code === MESSAGE_TOO_LARGE) {
          throw new VigilError(
            ErrorCodes.KV_VALUE_TOO_LARGE,
            `kv bucket "${this.name}": the value for key "${key}" exceeds the bucket's size limit`,
            { cause: error },
          );
        }
      }
      throw new VigilError(
        ErrorCodes.BUS_PUBLISH,
        `kv bucket "${this.name}": write of key "${key}" not confirmed: ${errorMessage(error)}`,
        { cause: error },
      );
    }
  }
}

function toEntry(entry: NatsKvEntry): KvEntry {
  return {
    key: entry.key,
    value: entry.value,
    revision: entry.revision,
    createdMs: entry.created.getTime(),
    operation: entry.operation === "PUT" ? "put" : "delete",
  };
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
