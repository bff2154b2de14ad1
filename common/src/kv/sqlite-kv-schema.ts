import type { DatabaseSync } from "node:sqlite";

// Schema of the SQLite control-plane KV file: every bucket in one table set,
// the bucket name a column. Migrations are append-only; opening applies every
// step above the recorded version in one transaction.

export const KV_STORE_MIGRATIONS: readonly string[] = [
  // 1: one row per bucket (its last revision survives the purge of every entry,
  // so revisions never go back, as a stream's sequence never does) and one row
  // per kept revision, tombstones included.
  `CREATE TABLE kv_buckets (
     name            TEXT PRIMARY KEY NOT NULL,
     history         INTEGER NOT NULL,
     ttl_ms          INTEGER NOT NULL,
     max_value_bytes INTEGER NOT NULL,
     last_revision   INTEGER NOT NULL
   ) WITHOUT ROWID;
   CREATE TABLE kv_entries (
     bucket     TEXT NOT NULL,
     revision   INTEGER NOT NULL,
     key        TEXT NOT NULL,
     operation  TEXT NOT NULL CHECK (operation IN ('put', 'delete')),
     created_ms INTEGER NOT NULL,
     value      BLOB NOT NULL,
     PRIMARY KEY (bucket, revision)
   );
   CREATE INDEX kv_entries_by_key ON kv_entries (bucket, key, revision);
   CREATE INDEX kv_entries_by_time ON kv_entries (bucket, created_ms);`,
];

export const KV_STORE_SCHEMA_VERSION = KV_STORE_MIGRATIONS.length;

/** Brings the file's schema up to date; returns the version it was at. */
export function migrateKvStore(db: DatabaseSync): number {
  // IMMEDIATE takes the write lock first: two processes opening a fresh file
  // do not both run the same migration.
  db.exec("BEGIN IMMEDIATE");
  try {
    db.exec("CREATE TABLE IF NOT EXISTS kv_schema_version (version INTEGER NOT NULL)");
    const row = db.prepare("SELECT MAX(version) AS version FROM kv_schema_version").get() as {
      version: number | null;
    };
    const current = row.version ?? 0;
    if (current > KV_STORE_SCHEMA_VERSION) {
      throw new Error(
        `its schema version ${current} is newer than this Vigil supports (${KV_STORE_SCHEMA_VERSION}); upgrade Vigil`,
      );
    }
    for (let version = current + 1; version <= KV_STORE_SCHEMA_VERSION; version++) {
      db.exec(KV_STORE_MIGRATIONS[version - 1] as string);
    }
    if (current !== KV_STORE_SCHEMA_VERSION) {
      db.exec("DELETE FROM kv_schema_version");
      db.prepare("INSERT INTO kv_schema_version (version) VALUES (?)").run(KV_STORE_SCHEMA_VERSION);
    }
    db.exec("COMMIT");
    return current;
  } catch (error) {
    db.exec("ROLLBACK");
    throw error;
  }
}
