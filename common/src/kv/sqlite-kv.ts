import { subjectMatches } from "../bus/subject-match";
import type { Logger } from "../observability/logger";
import { bucketClosed, keyExists, revisionMismatch, valueTooLarge } from "./kv-errors";
import { validateBucketSpec, validateKey, validateKeyPattern } from "./kv-names";
import { KvWatchers } from "./kv-watchers";
import type { KvStatements, SqliteKvStore } from "./sqlite-kv-store";
import type { KvBucket, KvBucketSpec, KvEntry, KvWatch, KvWatchOptions } from "./types";

// A KV bucket kept in the control-plane SQLite file (SqliteKvStore): NATS KV's
// behaviour, durable across restarts. Revisions come from the bucket's row, so
// they increase across keys and restarts; a write checks its condition and
// stores its revision in one transaction; `history` revisions are kept per
// key; entries older than `ttlMs` are invisible at once and deleted by the
// store's periodic purge (no tombstone, watchers are not told, like a
// stream's max_age). Watches see the changes made through this process.

interface EntryRow {
  key: string;
  revision: number;
  operation: KvEntry["operation"];
  createdMs: number;
  value?: Uint8Array | null;
}

/** Keys are ASCII (kv-names.ts): every key sorts below this. */
const ABOVE_EVERY_KEY = "\x7f";

export class SqliteKv implements KvBucket {
  private readonly watchers: KvWatchers;
  private spec: KvBucketSpec;
  private closed = false;

  constructor(
    spec: KvBucketSpec,
    private readonly store: SqliteKvStore,
    private readonly sql: KvStatements,
    logger: Logger,
  ) {
    validateBucketSpec(spec);
    this.spec = { ...spec };
    this.watchers = new KvWatchers(spec.name, logger);
  }

  get name(): string {
    return this.spec.name;
  }

  /** A re-declared bucket's limits (the store has already trimmed what it holds). */
  reconfigure(spec: KvBucketSpec): void {
    validateBucketSpec(spec);
    this.spec = { ...spec };
  }

  async get(key: string): Promise<KvEntry | undefined> {
    this.assertOpen();
    validateKey(this.name, key);
    const latest = this.latest(key);
    return latest?.operation === "put" ? latest : undefined;
  }

  async put(key: string, value: Uint8Array): Promise<number> {
    this.assertOpen();
    validateKey(this.name, key);
    this.checkSize(key, value);
    return this.write(key, value, "put", () => undefined);
  }

  async create(key: string, value: Uint8Array): Promise<number> {
    this.assertOpen();
    validateKey(this.name, key);
    this.checkSize(key, value);
    return this.write(key, value, "put", () => {
      if (this.latest(key)?.operation === "put") throw keyExists(this.name, key);
    });
  }

  async update(key: string, value: Uint8Array, expectedRevision: number): Promise<number> {
    this.assertOpen();
    validateKey(this.name, key);
    this.checkSize(key, value);
    return this.write(key, value, "put", () => {
      if (this.latest(key)?.revision !== expectedRevision) {
        throw revisionMismatch(this.name, key, expectedRevision);
      }
    });
  }

  async delete(key: string, expectedRevision?: number): Promise<void> {
    this.assertOpen();
    validateKey(this.name, key);
    this.write(key, new Uint8Array(0), "delete", () => {
      if (expectedRevision !== undefined && this.latest(key)?.revision !== expectedRevision) {
        throw revisionMismatch(this.name, key, expectedRevision);
      }
    });
  }

  async keys(pattern = ">"): Promise<string[]> {
    this.assertOpen();
    validateKeyPattern(this.name, pattern);
    const rows = this.sql.latestKeys.all({
      bucket: this.name,
      ...keyRange(pattern),
    }) as unknown as EntryRow[];
    const cutoff = this.cutoff();
    return rows
      .filter((row) => row.operation === "put" && row.createdMs > cutoff && subjectMatches(pattern, row.key))
      .map((row) => row.key)
      .sort();
  }

  async history(key: string): Promise<KvEntry[]> {
    this.assertOpen();
    validateKey(this.name, key);
    const rows = this.sql.history.all({
      bucket: this.name,
      key,
      cutoff: this.cutoff(),
    }) as unknown as EntryRow[];
    return rows.map(toEntry);
  }

  async watch(options: KvWatchOptions, onEntry: (entry: KvEntry) => void): Promise<KvWatch> {
    this.assertOpen();
    const pattern = options.key ?? ">";
    validateKeyPattern(this.name, pattern);
    let current: KvEntry[] | undefined;
    if (options.initialValues) {
      const cutoff = this.cutoff();
      const rows = this.sql.latestEntries.all({
        bucket: this.name,
        ...keyRange(pattern),
      }) as unknown as EntryRow[];
      current = rows.filter((row) => row.createdMs > cutoff).map(toEntry);
    }
    // Read and registered without yielding: no write can fall between the two.
    return this.watchers.add(pattern, current, onEntry);
  }

  /** Deletes the entries past their TTL (reads skip them already). */
  purgeExpired(): void {
    if (this.closed || this.spec.ttlMs === 0) return;
    const cutoff = this.cutoff();
    this.store.transaction(
      () => this.sql.purgeExpired.run({ bucket: this.name, cutoff }),
      `kv bucket "${this.name}": purging expired entries`,
    );
  }

  /** Ends every watch (the bus closed). */
  close(): void {
    this.closed = true;
    this.watchers.close();
  }

  private write(key: string, value: Uint8Array, operation: KvEntry["operation"], check: () => void): number {
    const entry = this.store.transaction(() => {
      check();
      const { revision } = this.sql.nextRevision.get({ bucket: this.name }) as { revision: number };
      const written: KvEntry = {
        key,
        // Copied so a writer reusing its buffer cannot change what watchers are given.
        value: new Uint8Array(value),
        revision,
        createdMs: Date.now(),
        operation,
      };
      this.sql.insert.run({ bucket: this.name, ...written });
      this.sql.trimKey.run({ bucket: this.name, key, history: this.spec.history });
      return written;
    }, `kv bucket "${this.name}": writing key "${key}"`);
    // Only once committed: a watcher never sees a change that was rolled back.
    this.watchers.notify(entry);
    return entry.revision;
  }

  private latest(key: string): KvEntry | undefined {
    const row = this.sql.latest.get({ bucket: this.name, key }) as EntryRow | undefined;
    return row && row.createdMs > this.cutoff() ? toEntry(row) : undefined;
  }

  /** Entries written at or before this are expired. */
  private cutoff(): number {
    return this.spec.ttlMs === 0 ? Number.MIN_SAFE_INTEGER : Date.now() - this.spec.ttlMs;
  }

  private checkSize(key: string, value: Uint8Array): void {
    if (value.byteLength > this.spec.maxValueBytes) {
      throw valueTooLarge(this.name, key, value.byteLength, this.spec.maxValueBytes);
    }
  }

  private assertOpen(): void {
    if (this.closed || this.store.isClosed()) throw bucketClosed(this.name);
  }
}

function toEntry(row: EntryRow): KvEntry {
  return {
    key: row.key,
    value: row.value ? new Uint8Array(row.value) : new Uint8Array(0),
    revision: row.revision,
    createdMs: row.createdMs,
    operation: row.operation,
  };
}

/**
 * The key range a pattern's literal leading tokens allow ("agents.*" →
 * ["agents.", "agents/")), so the index narrows the scan; the pattern itself
 * is then matched on every key in it.
 */
function keyRange(pattern: string): { from: string; to: string } {
  const tokens = pattern.split(".");
  const wild = tokens.findIndex((token) => token === "*" || token === ">");
  if (wild === 0) return { from: "", to: ABOVE_EVERY_KEY };
  const from = wild === -1 ? pattern : `${tokens.slice(0, wild).join(".")}.`;
  const last = from.charCodeAt(from.length - 1);
  return { from, to: from.slice(0, -1) + String.fromCharCode(last + 1) };
}
