import { chmodSync, closeSync, openSync } from "node:fs";
import { DatabaseSync, type StatementSync } from "node:sqlite";
import { ErrorCodes, VigilError } from "../errors";
import type { Logger } from "../observability/logger";
import { validateBucketSpec } from "./kv-names";
import { SqliteKv } from "./sqlite-kv";
import { migrateKvStore } from "./sqlite-kv-schema";
import type { KvBucketSpec } from "./types";

// The file behind embedded mode's control plane (rulesets, agent config,
// tasks, API tokens, enrolments, fleet registry): every bucket in one SQLite
// database, so what an operator pushed survives a restart. Live changes reach
// the watchers of this process only: embedded mode is one process, and a
// second process on the same file sees the data (writes are transactions
// under SQLite's lock) but not the other's changes as they happen.

export interface SqliteKvStoreOptions {
  /** Database file; created with mode 0600 if missing (it holds hashed secrets). */
  path: string;
  logger: Logger;
  /** How often expired entries are deleted (reads already skip them). Default 60 s. */
  purgeIntervalMs?: number;
  /** How long a write waits for another connection's lock. Default 5 s. */
  busyTimeoutMs?: number;
}

/** The prepared statements every bucket of the file shares (the bucket is a parameter). */
export interface KvStatements {
  latest: StatementSync;
  latestKeys: StatementSync;
  latestEntries: StatementSync;
  history: StatementSync;
  nextRevision: StatementSync;
  insert: StatementSync;
  trimKey: StatementSync;
  trimBucket: StatementSync;
  purgeExpired: StatementSync;
  declareBucket: StatementSync;
}

const ENTRY_COLUMNS = "key, revision, operation, created_ms AS createdMs, value";
const DEFAULT_PURGE_INTERVAL_MS = 60_000;
const DEFAULT_BUSY_TIMEOUT_MS = 5_000;

export class SqliteKvStore {
  readonly path: string;
  private readonly db: DatabaseSync;
  private readonly statements: KvStatements;
  private readonly buckets = new Map<string, SqliteKv>();
  private readonly purgeTimer: NodeJS.Timeout;
  private readonly logger: Logger;
  private closed = false;

  constructor(options: SqliteKvStoreOptions) {
    this.path = options.path;
    this.logger = options.logger;
    createPrivateFile(options.path);
    let db: DatabaseSync;
    try {
      db = new DatabaseSync(options.path, { timeout: options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS });
    } catch (error) {
      throw cannotOpen(options.path, error);
    }
    try {
      // WAL: reads never wait for a write. NORMAL: a committed change survives
      // a crash or kill -9 of the process (a power loss may take the last few);
      // FULL's fsync per commit would cap the hub's correlation and dedup
      // buckets, which live here too, at about 1k writes/s.
      db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;");
      const from = migrateKvStore(db);
      if (from === 0) this.logger.info({ path: options.path }, "control-plane KV store created");
      this.statements = prepare(db);
    } catch (error) {
      db.close();
      throw cannotOpen(options.path, error);
    }
    this.db = db;
    this.purgeTimer = setInterval(
      () => this.purgeAll(),
      options.purgeIntervalMs ?? DEFAULT_PURGE_INTERVAL_MS,
    );
    this.purgeTimer.unref();
  }

  /** The bucket `spec` names, declared (or re-declared with new limits) in the file. */
  openBucket(spec: KvBucketSpec): SqliteKv {
    validateBucketSpec(spec);
    this.transaction(() => {
      this.statements.declareBucket.run({
        name: spec.name,
        history: spec.history,
        ttlMs: spec.ttlMs,
        maxValueBytes: spec.maxValueBytes,
      });
      // A smaller history applies to what is stored, as NATS trims the stream.
      this.statements.trimBucket.run({ bucket: spec.name, history: spec.history });
    }, `kv bucket "${spec.name}": declaring it`);
    let bucket = this.buckets.get(spec.name);
    if (bucket) bucket.reconfigure(spec);
    else {
      bucket = new SqliteKv(spec, this, this.statements, this.logger);
      this.buckets.set(spec.name, bucket);
    }
    bucket.purgeExpired();
    return bucket;
  }

  /**
   * Runs `work` in one write transaction (IMMEDIATE: the lock is taken before
   * anything is read, so a check and its write see the same state). A SQLite
   * failure is rethrown naming `what` and the file.
   */
  transaction<T>(work: () => T, what: string): T {
    this.db.exec("BEGIN IMMEDIATE");
    let result: T;
    try {
      result = work();
      this.db.exec("COMMIT");
    } catch (error) {
      if (this.db.isTransaction) this.db.exec("ROLLBACK");
      if (error instanceof VigilError || error instanceof TypeError) throw error;
      throw new VigilError(ErrorCodes.BUS_UNAVAILABLE, `${what} in ${this.path} failed: ${message(error)}`, {
        cause: error,
      });
    }
    return result;
  }

  isClosed(): boolean {
    return this.closed;
  }

  /** Ends every watch and closes the file. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.purgeTimer);
    for (const bucket of this.buckets.values()) bucket.close();
    this.db.close();
  }

  private purgeAll(): void {
    for (const bucket of this.buckets.values()) {
      try {
        bucket.purgeExpired();
      } catch (error) {
        this.logger.warn(
          { err: error, bucket: bucket.name, path: this.path },
          "kv purge of expired entries failed",
        );
      }
    }
  }
}

function prepare(db: DatabaseSync): KvStatements {
  return {
    latest: db.prepare(
      `SELECT ${ENTRY_COLUMNS} FROM kv_entries WHERE bucket = $bucket AND key = $key
       ORDER BY revision DESC LIMIT 1`,
    ),
    // SQLite takes the other columns from the row holding MAX(revision).
    latestKeys: db.prepare(
      `SELECT key, MAX(revision) AS revision, operation, created_ms AS createdMs FROM kv_entries
       WHERE bucket = $bucket AND key >= $from AND key < $to GROUP BY key`,
    ),
    latestEntries: db.prepare(
      `SELECT key, MAX(revision) AS revision, operation, created_ms AS createdMs, value FROM kv_entries
       WHERE bucket = $bucket AND key >= $from AND key < $to GROUP BY key`,
    ),
    history: db.prepare(
      `SELECT ${ENTRY_COLUMNS} FROM kv_entries WHERE bucket = $bucket AND key = $key AND created_ms > $cutoff
       ORDER BY revision`,
    ),
    nextRevision: db.prepare(
      "UPDATE kv_buckets SET last_revision = last_revision + 1 WHERE name = $bucket RETURNING last_revision AS revision",
    ),
    insert: db.prepare(
      `INSERT INTO kv_entries (bucket, revision, key, operation, created_ms, value)
       VALUES ($bucket, $revision, $key, $operation, $createdMs, $value)`,
    ),
    trimKey: db.prepare(
      `DELETE FROM kv_entries WHERE bucket = $bucket AND key = $key AND revision <= (
         SELECT revision FROM kv_entries WHERE bucket = $bucket AND key = $key
         ORDER BY revision DESC LIMIT 1 OFFSET $history)`,
    ),
    trimBucket: db.prepare(
      `DELETE FROM kv_entries WHERE bucket = $bucket AND revision IN (
         SELECT revision FROM (
           SELECT revision, ROW_NUMBER() OVER (PARTITION BY key ORDER BY revision DESC) AS newer
           FROM kv_entries WHERE bucket = $bucket)
         WHERE newer > $history)`,
    ),
    purgeExpired: db.prepare("DELETE FROM kv_entries WHERE bucket = $bucket AND created_ms <= $cutoff"),
    declareBucket: db.prepare(
      `INSERT INTO kv_buckets (name, history, ttl_ms, max_value_bytes, last_revision)
       VALUES ($name, $history, $ttlMs, $maxValueBytes, 0)
       ON CONFLICT (name) DO UPDATE SET
         history = excluded.history, ttl_ms = excluded.ttl_ms, max_value_bytes = excluded.max_value_bytes`,
    ),
  };
}

function createPrivateFile(path: string): void {
  try {
    closeSync(openSync(path, "a", 0o600));
    chmodSync(path, 0o600);
  } catch (error) {
    throw cannotOpen(path, error);
  }
}

function cannotOpen(path: string, error: unknown): VigilError {
  return new VigilError(
    ErrorCodes.BUS_UNAVAILABLE,
    `cannot open the control-plane KV store ${path}: ${message(error)}`,
    { cause: error },
  );
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
