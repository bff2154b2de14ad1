// Schema of the SQLite alert store. Migrations are append-only: the store applies
// every step above the version recorded in schema_version, in one transaction.

export const ALERT_STORE_MIGRATIONS: readonly string[] = [
  // 1: alerts keyed by their deterministic id, so a redelivered event is stored once.
  `CREATE TABLE alerts (
     id           TEXT PRIMARY KEY NOT NULL,
     timestamp_us INTEGER NOT NULL,
     level        TEXT NOT NULL,
     severity     INTEGER NOT NULL,
     rule_id      TEXT NOT NULL,
     rule_name    TEXT NOT NULL,
     host_name    TEXT,
     stored_at_us INTEGER NOT NULL,
     document     TEXT NOT NULL
   );
   CREATE INDEX alerts_by_time ON alerts (timestamp_us);
   CREATE INDEX alerts_by_severity ON alerts (severity, timestamp_us);
   CREATE INDEX alerts_by_rule ON alerts (rule_id, timestamp_us);
   CREATE INDEX alerts_by_host ON alerts (host_name, timestamp_us);`,
];

export const ALERT_STORE_SCHEMA_VERSION = ALERT_STORE_MIGRATIONS.length;
