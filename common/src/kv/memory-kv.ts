import { subjectMatches } from "../bus/subject-match";
import type { Logger } from "../observability/logger";
import { bucketClosed, keyExists, revisionMismatch, valueTooLarge } from "./kv-errors";
import { validateBucketSpec, validateKey, validateKeyPattern } from "./kv-names";
import { copyEntry, KvWatchers } from "./kv-watchers";
import type { KvBucket, KvBucketSpec, KvEntry, KvWatch, KvWatchOptions } from "./types";

// The embedded-mode KV bucket: NATS KV's behaviour inside one process. One
// bucket-wide revision counter, `history` revisions kept per key, tombstones
// for deletes, entries dropped `ttlMs` after they were written (like a
// stream's max_age: no tombstone, watchers are not told), and watchers fed
// through KvWatchers (shared with the SQLite bucket).

export class MemoryKv implements KvBucket {
  private readonly revisions = new Map<string, KvEntry[]>();
  private readonly watchers: KvWatchers;
  private lastRevision = 0;
  private spec: KvBucketSpec;
  private closed = false;

  constructor(spec: KvBucketSpec, logger: Logger) {
    validateBucketSpec(spec);
    this.spec = { ...spec };
    this.watchers = new KvWatchers(spec.name, logger);
  }

  get name(): string {
    return this.spec.name;
  }

  /** Re-declaring a bucket with new limits applies them (as NATS updates the stream). */
  reconfigure(spec: KvBucketSpec): void {
    validateBucketSpec(spec);
    this.spec = { ...spec };
    for (const [key, entries] of this.revisions) {
      if (entries.length > spec.history) this.revisions.set(key, entries.slice(-spec.history));
    }
  }

  async get(key: string): Promise<KvEntry | undefined> {
    this.assertOpen();
    validateKey(this.name, key);
    const latest = this.latest(key);
    return latest?.operation === "put" ? copyEntry(latest) : undefined;
  }

  async put(key: string, value: Uint8Array): Promise<number> {
    this.assertOpen();
    validateKey(this.name, key);
    return this.write(key, value, "put");
  }

  async create(key: string, value: Uint8Array): Promise<number> {
    this.assertOpen();
    validateKey(this.name, key);
    this.checkSize(key, value);
    if (this.latest(key)?.operation === "put") throw keyExists(this.name, key);
    return this.write(key, value, "put");
  }

  async update(key: string, value: Uint8Array, expectedRevision: number): Promise<number> {
    this.assertOpen();
    validateKey(this.name, key);
    this.checkSize(key, value);
    if (this.latest(key)?.revision !== expectedRevision) {
      throw revisionMismatch(this.name, key, expectedRevision);
    }
    return this.write(key, value, "put");
  }

  async delete(key: string, expectedRevision?: number): Promise<void> {
    this.assertOpen();
    validateKey(this.name, key);
    if (expectedRevision !== undefined && this.latest(key)?.revision !== expectedRevision) {
      throw revisionMismatch(this.name, key, expectedRevision);
    }
    this.write(key, new Uint8Array(0), "delete");
  }

  async keys(pattern = ">"): Promise<string[]> {
    this.assertOpen();
    validateKeyPattern(this.name, pattern);
    const live: string[] = [];
    for (const key of [...this.revisions.keys()]) {
      if (subjectMatches(pattern, key) && this.latest(key)?.operation === "put") live.push(key);
    }
    return live.sort();
  }

  async history(key: string): Promise<KvEntry[]> {
    this.assertOpen();
    validateKey(this.name, key);
    this.expire(key);
    return (this.revisions.get(key) ?? []).map(copyEntry);
  }

  async watch(options: KvWatchOptions, onEntry: (entry: KvEntry) => void): Promise<KvWatch> {
    this.assertOpen();
    const pattern = options.key ?? ">";
    validateKeyPattern(this.name, pattern);
    let current: KvEntry[] | undefined;
    if (options.initialValues) {
      current = [];
      for (const key of [...this.revisions.keys()]) {
        const latest = this.latest(key);
        if (latest) current.push(latest);
      }
    }
    return this.watchers.add(pattern, current, onEntry);
  }

  /** Ends every watch (the bus closed). */
  close(): void {
    this.closed = true;
    this.watchers.close();
  }

  private assertOpen(): void {
    if (this.closed) throw bucketClosed(this.name);
  }

  private write(key: string, value: Uint8Array, operation: KvEntry["operation"]): number {
    if (operation === "put") this.checkSize(key, value);
    const entry: KvEntry = {
      key,
      // Copied so a writer reusing its buffer cannot change what was stored.
      value: value.slice(),
      revision: ++this.lastRevision,
      createdMs: Date.now(),
      operation,
    };
    const entries = this.revisions.get(key) ?? [];
    entries.push(entry);
    if (entries.length > this.spec.history) entries.splice(0, entries.length - this.spec.history);
    this.revisions.set(key, entries);
    this.watchers.notify(entry);
    return entry.revision;
  }

  private checkSize(key: string, value: Uint8Array): void {
    if (value.byteLength > this.spec.maxValueBytes) {
      throw valueTooLarge(this.name, key, value.byteLength, this.spec.maxValueBytes);
    }
  }

  private latest(key: string): KvEntry | undefined {
    this.expire(key);
    const entries = this.revisions.get(key);
    return entries?.[entries.length - 1];
  }

  private expire(key: string): void {
    const entries = this.revisions.get(key);
    if (!entries || this.spec.ttlMs === 0) return;
    const cutoff = Date.now() - this.spec.ttlMs;
    const firstLive = entries.findIndex((e) => e.createdMs > cutoff);
    if (firstLive === -1) this.revisions.delete(key);
    else if (firstLive > 0) entries.splice(0, firstLive);
  }
}
