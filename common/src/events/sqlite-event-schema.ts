// Schema of the embedded event store (<dataDir>/events.db). Migrations are
// append-only: the store applies every step above the version recorded in
// schema_version, in one transaction. Columns are the indexed fields of the
// ECS document; `doc` is the document itself, `bytes` its length, which the
// byte retention bound counts.

export const EVENT_STORE_MIGRATIONS: readonly string[] = [
  // 1: events keyed by event.id, so a redelivered batch is stored once.
  `CREATE TABLE events (
     id                TEXT PRIMARY KEY NOT NULL,
     ts_ms             INTEGER NOT NULL,
     host_id           TEXT NOT NULL,
     host_name         TEXT,
     category          TEXT,
     action            TEXT,
     process_entity_id TEXT,
     process_pid       INTEGER,
     parent_entity_id  TEXT,
     executable        TEXT,
     command_line      TEXT,
     sha256            TEXT,
     user_name         TEXT,
     destination_ip    TEXT,
     destination_port  INTEGER,
     direction         TEXT,
     source_port       INTEGER,
     file_path         TEXT,
     doc               TEXT NOT NULL,
     bytes             INTEGER NOT NULL
   );
   CREATE INDEX events_by_host_time ON events (host_id, ts_ms);
   CREATE INDEX events_by_time ON events (ts_ms);
   CREATE INDEX events_by_process ON events (process_entity_id, ts_ms);
   CREATE INDEX events_by_parent ON events (parent_entity_id);
   -- Running totals kept by triggers, so the byte bound is checked without a scan.
   CREATE TABLE event_totals (events INTEGER NOT NULL, bytes INTEGER NOT NULL);
   INSERT INTO event_totals (events, bytes) VALUES (0, 0);
   CREATE TRIGGER events_counted AFTER INSERT ON events BEGIN
     UPDATE event_totals SET events = events + 1, bytes = bytes + NEW.bytes;
   END;
   CREATE TRIGGER events_uncounted AFTER DELETE ON events BEGIN
     UPDATE event_totals SET events = events - 1, bytes = bytes - OLD.bytes;
   END;`,
];

export const EVENT_STORE_SCHEMA_VERSION = EVENT_STORE_MIGRATIONS.length;
