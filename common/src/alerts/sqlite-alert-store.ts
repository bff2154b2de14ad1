// Durable local alert store: the hub writes it, the server's REST API reads it.
// node:sqlite is synchronous; every call is short (indexed, prepared), so the
// Promise-returning interface is kept for parity with the other sinks.

import { chmodSync, closeSync, openSync } from "node:fs";
import { DatabaseSync, type SQLInputValue, type StatementSync } from "node:sqlite";
import { ErrorCodes, VigilError } from "../errors";
import type { Logger } from "../observability/logger";
import { decodeAlertCursor, encodeAlertCursor } from "./alert-cursor";
import { ALERT_STORE_MIGRATIONS, ALERT_STORE_SCHEMA_VERSION } from "./sqlite-schema";
import {
  ALERT_LEVELS,
  type Alert,
  type AlertLevel,
  type AlertPage,
  type AlertQuery,
  type AlertReader,
  type AlertSearch,
  type AlertSink,
  type EcsDocument,
  MAX_ALERT_PAGE_SIZE,
  SEVERITY_BY_LEVEL,
} from "./types";

export interface SqliteAlertStoreOptions {
  /** Database file; created with mode 0600 if missing. */
  path: string;
  /** How long a writer waits for another connection's lock. */
  busyTimeoutMs?: number;
  logger?: Logger;
}

export interface AlertStoreStats {
  total: number;
  byLevel: Record<AlertLevel, number>;
  /** Alert time (µs since epoch) of the oldest and newest alert; null when empty. */
  oldestUs: number | null;
  newestUs: number | null;
}

/** A deduplicated alert's new count (the hub's AlertCountUpdate, same shape). */
export interface AlertCountUpdate {
  alertId: string;
  /** Events the alert stands for, its own included. */
  count: number;
  /** Time of the latest of them (ISO). */
  lastSeen: string;
}

export const DEFAULT_BUSY_TIMEOUT_MS = 5_000;
/** Upper bound on one query's result size, whatever the caller asks for. */
export const MAX_QUERY_LIMIT = 10_000;

// Filter bits: each combination of AlertQuery filters gets its own statement,
// compiled on first use, so every query can use the matching index.
const FILTER_MIN_LEVEL = 1;
const FILTER_RULE = 2;
const FILTER_HOST = 4;
const FILTER_SINCE = 8;

/** What free text is matched against (AlertSearch.text). */
const TEXT_COLUMNS = [
  "rule_name",
  "host_name",
  "json_extract(document, '$.message')",
  "json_extract(document, '$.process.command_line')",
] as const;

interface PreparedRow {
  id: string;
  timestampUs: number;
  level: AlertLevel;
  severity: number;
  ruleId: string;
  ruleName: string;
  hostName: string | null;
  document: string;
}

export class SqliteAlertStore implements AlertSink, AlertReader {
  readonly name = "sqlite";
  readonly path: string;
  private readonly db: DatabaseSync;
  private readonly insert: StatementSync;
  private readonly raiseCount: StatementSync;
  private readonly exists: StatementSync;
  private readonly statsByLevel: StatementSync;
  private readonly statsRange: StatementSync;
  private readonly queries = new Map<number, StatementSync>();
  /** Search statements by SQL text: one per combination of filters, so a bounded set. */
  private readonly searches = new Map<string, StatementSync>();
  private closed = false;

  constructor(options: SqliteAlertStoreOptions) {
    this.path = options.path;
    createPrivateFile(options.path);
    try {
      this.db = new DatabaseSync(options.path, { timeout: options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS });
    } catch (error) {
      throw new VigilError(
        ErrorCodes.SINK_WRITE,
        `cannot open alert store ${options.path}: ${message(error)}`,
        {
          cause: error,
        },
      );
    }
    try {
      // WAL lets the API read while the hub writes; NORMAL sync is durable across
      // process crashes, which is what the bus redelivery relies on.
      this.db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;");
      const from = migrate(this.db);
      if (from !== ALERT_STORE_SCHEMA_VERSION) {
        options.logger?.info(
          { path: options.path, from, to: ALERT_STORE_SCHEMA_VERSION },
          "alert store schema migrated",
        );
      }
      this.insert = this.db.prepare(
        `INSERT OR IGNORE INTO alerts
           (id, timestamp_us, level, severity, rule_id, rule_name, host_name, stored_at_us, document)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      );
      // Only ever raises: a redelivered or late (lower) count leaves the alert as it is.
      this.raiseCount = this.db.prepare(
        `UPDATE alerts
            SET document = json_set(document, '$.vigil.alert.count', ?, '$.vigil.alert.last_seen', ?)
          WHERE id = ? AND COALESCE(json_extract(document, '$.vigil.alert.count'), 1) < ?`,
      );
      this.exists = this.db.prepare("SELECT 1 AS found FROM alerts WHERE id = ?");
      this.statsByLevel = this.db.prepare("SELECT level, COUNT(*) AS n FROM alerts GROUP BY level");
      this.statsRange = this.db.prepare(
        "SELECT COUNT(*) AS total, MIN(timestamp_us) AS oldest, MAX(timestamp_us) AS newest FROM alerts",
      );
    } catch (error) {
      this.db.close();
      if (error instanceof VigilError) throw error;
      throw new VigilError(
        ErrorCodes.SINK_WRITE,
        `cannot initialise alert store ${options.path}: ${message(error)}`,
        { cause: error },
      );
    }
  }

  /** Stores alerts in one transaction; alerts already stored (same id) are skipped. */
  async write(alerts: Alert[]): Promise<void> {
    this.assertOpen();
    if (alerts.length === 0) return;
    // Validate and serialise everything first so a bad alert fails the batch
    // before any row is touched.
    const rows = alerts.map(toRow);
    const storedAtUs = Date.now() * 1000;
    this.db.exec("BEGIN IMMEDIATE");
    try {
      for (const row of rows) {
        this.insert.run(
          row.id,
          row.timestampUs,
          row.level,
          row.severity,
          row.ruleId,
          row.ruleName,
          row.hostName,
          storedAtUs,
          row.document,
        );
      }
      this.db.exec("COMMIT");
    } catch (error) {
      this.db.exec("ROLLBACK");
      throw new VigilError(
        ErrorCodes.SINK_WRITE,
        `alert store ${this.path}: writing ${alerts.length} alerts failed: ${message(error)}`,
        { cause: error },
      );
    }
  }

  /**
   * Raises vigil.alert.count and last_seen of stored alerts (dedup folded more
   * matches into them), in one transaction. A count at or below the stored one
   * changes nothing, so a redelivered batch cannot count twice or lower a
   * count. An alert not stored fails the whole call (transient, like the
   * Elasticsearch sink: another writer may not have committed it yet), and the
   * hub redelivers the batch.
   */
  async updateCounts(updates: readonly AlertCountUpdate[]): Promise<void> {
    this.assertOpen();
    if (updates.length === 0) return;
    for (const update of updates) checkCountUpdate(update);
    this.db.exec("BEGIN IMMEDIATE");
    try {
      const missing: string[] = [];
      for (const update of updates) {
        const changed = this.raiseCount.run(update.count, update.lastSeen, update.alertId, update.count);
        if (Number(changed.changes) === 0 && this.exists.get(update.alertId) === undefined) {
          missing.push(update.alertId);
        }
      }
      if (missing.length > 0) {
        throw new VigilError(
          ErrorCodes.SINK_WRITE,
          `alert store ${this.path}: count of ${missing.length} alerts not updated, not stored (yet): ${missing
            .slice(0, 5)
            .join(", ")}${missing.length > 5 ? ", ..." : ""}; retry later`,
        );
      }
      this.db.exec("COMMIT");
    } catch (error) {
      this.db.exec("ROLLBACK");
      if (error instanceof VigilError) throw error;
      throw new VigilError(
        ErrorCodes.SINK_WRITE,
        `alert store ${this.path}: updating ${updates.length} alert counts failed: ${message(error)}`,
        { cause: error },
      );
    }
  }

  /** Alerts matching every given filter, newest first. */
  async query(query: AlertQuery): Promise<EcsDocument[]> {
    this.assertOpen();
    const limit = Math.max(0, Math.min(Math.trunc(query.limit), MAX_QUERY_LIMIT));
    if (!Number.isFinite(limit) || limit === 0) return [];
    const params: SQLInputValue[] = [];
    let mask = 0;
    if (query.minLevel !== undefined) {
      mask |= FILTER_MIN_LEVEL;
      params.push(severityOf(query.minLevel, "query.minLevel"));
    }
    if (query.ruleId !== undefined) {
      mask |= FILTER_RULE;
      params.push(query.ruleId);
    }
    if (query.hostName !== undefined) {
      mask |= FILTER_HOST;
      params.push(query.hostName);
    }
    if (query.sinceUs !== undefined) {
      mask |= FILTER_SINCE;
      params.push(Math.trunc(query.sinceUs));
    }
    params.push(limit);
    const rows = this.queryStatement(mask).all(...params) as Array<{ document: string }>;
    return rows.map((row) => JSON.parse(row.document) as EcsDocument);
  }

  /** One page of alerts matching every given filter, newest first, with the total count. */
  async search(search: AlertSearch): Promise<AlertPage> {
    this.assertOpen();
    const size = Math.max(1, Math.min(Math.trunc(search.size), MAX_ALERT_PAGE_SIZE));
    const where: string[] = [];
    const params: SQLInputValue[] = [];
    if (search.sinceUs !== undefined) {
      where.push("timestamp_us >= ?");
      params.push(Math.trunc(search.sinceUs));
    }
    if (search.untilUs !== undefined) {
      where.push("timestamp_us < ?");
      params.push(Math.trunc(search.untilUs));
    }
    if (search.minLevel !== undefined) {
      where.push("severity >= ?");
      params.push(severityOf(search.minLevel, "search.minLevel"));
    }
    if (search.levels !== undefined && search.levels.length > 0) {
      const levels = [...new Set(search.levels)];
      where.push(`severity IN (${levels.map(() => "?").join(", ")})`);
      for (const level of levels) params.push(severityOf(level, "search.levels"));
    }
    if (search.ruleId !== undefined) {
      where.push("rule_id = ?");
      params.push(search.ruleId);
    }
    if (search.hostName !== undefined) {
      where.push("host_name = ?");
      params.push(search.hostName);
    }
    if (search.text !== undefined && search.text !== "") {
      // LIKE is case-insensitive for ASCII; %, _ and \ in the text are literal.
      where.push(`(${TEXT_COLUMNS.map((column) => `${column} LIKE ? ESCAPE '\\'`).join(" OR ")})`);
      const pattern = `%${search.text.replace(/[\\%_]/g, "\\$&")}%`;
      for (const _ of TEXT_COLUMNS) params.push(pattern);
    }
    const filters = where.length > 0 ? ` WHERE ${where.join(" AND ")}` : "";
    const total = (
      this.searchStatement(`SELECT COUNT(*) AS n FROM alerts${filters}`).get(...params) as {
        n: number;
      }
    ).n;
    const pageWhere = [...where];
    const pageParams = [...params];
    if (search.cursor !== undefined) {
      const after = decodeAlertCursor(search.cursor);
      pageWhere.push("(timestamp_us < ? OR (timestamp_us = ? AND id < ?))");
      pageParams.push(after.time, after.time, after.id);
    }
    pageParams.push(size + 1);
    const rows = this.searchStatement(
      `SELECT id, timestamp_us AS timestampUs, document FROM alerts${
        pageWhere.length > 0 ? ` WHERE ${pageWhere.join(" AND ")}` : ""
      } ORDER BY timestamp_us DESC, id DESC LIMIT ?`,
    ).all(...pageParams) as Array<{ id: string; timestampUs: number; document: string }>;
    const page = rows.slice(0, size);
    const last = page[page.length - 1];
    return {
      alerts: page.map((row) => JSON.parse(row.document) as EcsDocument),
      total,
      totalExact: true,
      nextCursor:
        rows.length > size && last !== undefined
          ? encodeAlertCursor({ time: last.timestampUs, id: last.id })
          : null,
    };
  }

  async get(alertId: string): Promise<EcsDocument | undefined> {
    this.assertOpen();
    const row = this.searchStatement("SELECT document FROM alerts WHERE id = ?").get(alertId) as
      | { document: string }
      | undefined;
    return row === undefined ? undefined : (JSON.parse(row.document) as EcsDocument);
  }

  async stats(): Promise<AlertStoreStats> {
    this.assertOpen();
    const byLevel = Object.fromEntries(ALERT_LEVELS.map((level) => [level, 0])) as Record<AlertLevel, number>;
    for (const row of this.statsByLevel.all() as Array<{ level: string; n: number }>) {
      if (row.level in byLevel) byLevel[row.level as AlertLevel] = row.n;
    }
    const range = this.statsRange.get() as { total: number; oldest: number | null; newest: number | null };
    return { total: range.total, byLevel, oldestUs: range.oldest, newestUs: range.newest };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.db.close();
  }

  private queryStatement(mask: number): StatementSync {
    let statement = this.queries.get(mask);
    if (statement === undefined) {
      const where: string[] = [];
      if (mask & FILTER_MIN_LEVEL) where.push("severity >= ?");
      if (mask & FILTER_RULE) where.push("rule_id = ?");
      if (mask & FILTER_HOST) where.push("host_name = ?");
      if (mask & FILTER_SINCE) where.push("timestamp_us > ?");
      statement = this.db.prepare(
        `SELECT document FROM alerts${where.length > 0 ? ` WHERE ${where.join(" AND ")}` : ""}
         ORDER BY timestamp_us DESC, id DESC LIMIT ?`,
      );
      this.queries.set(mask, statement);
    }
    return statement;
  }

  private searchStatement(sql: string): StatementSync {
    let statement = this.searches.get(sql);
    if (statement === undefined) {
      statement = this.db.prepare(sql);
      this.searches.set(sql, statement);
    }
    return statement;
  }

  private assertOpen(): void {
    if (this.closed) throw new VigilError(ErrorCodes.SINK_WRITE, `alert store ${this.path} is closed`);
  }
}

/** Applies pending migrations; returns the version found before migrating. */
function migrate(db: DatabaseSync): number {
  // IMMEDIATE takes the write lock first, so two processes opening a fresh file
  // do not both run the same migration.
  db.exec("BEGIN IMMEDIATE");
  try {
    db.exec("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)");
    const row = db.prepare("SELECT MAX(version) AS version FROM schema_version").get() as {
      version: number | null;
    };
    const current = row.version ?? 0;
    if (current > ALERT_STORE_SCHEMA_VERSION) {
      throw new VigilError(
        ErrorCodes.SINK_WRITE,
        `alert store schema version ${current} is newer than this Vigil supports (${ALERT_STORE_SCHEMA_VERSION}); upgrade Vigil`,
      );
    }
    for (let version = current + 1; version <= ALERT_STORE_SCHEMA_VERSION; version++) {
      db.exec(ALERT_STORE_MIGRATIONS[version - 1] as string);
    }
    if (current !== ALERT_STORE_SCHEMA_VERSION) {
      db.exec("DELETE FROM schema_version");
      db.prepare("INSERT INTO schema_version (version) VALUES (?)").run(ALERT_STORE_SCHEMA_VERSION);
    }
    db.exec("COMMIT");
    return current;
  } catch (error) {
    db.exec("ROLLBACK");
    throw error;
  }
}

function toRow(alert: Alert): PreparedRow {
  let document: string;
  try {
    document = JSON.stringify(alert.document);
  } catch (error) {
    throw new VigilError(
      ErrorCodes.SINK_WRITE,
      `alert ${alert.id} (rule ${alert.rule?.id}): document cannot be serialised to JSON: ${message(error)}`,
      { cause: error },
    );
  }
  if (typeof document !== "string") {
    throw new VigilError(ErrorCodes.SINK_WRITE, `alert ${alert.id}: document is not a JSON object`);
  }
  if (!Number.isFinite(alert.timestampUs)) {
    throw new VigilError(ErrorCodes.SINK_WRITE, `alert ${alert.id}: timestampUs is not a finite number`);
  }
  const host = alert.document.host as { name?: unknown } | undefined;
  return {
    id: alert.id,
    timestampUs: Math.trunc(alert.timestampUs),
    level: alert.level,
    severity: severityOf(alert.level, `alert ${alert.id} level`),
    ruleId: alert.rule.id,
    ruleName: alert.rule.name,
    hostName: typeof host?.name === "string" ? host.name : null,
    document,
  };
}

function checkCountUpdate(update: AlertCountUpdate): void {
  if (typeof update.alertId !== "string" || update.alertId === "") {
    throw new VigilError(ErrorCodes.SINK_WRITE, "alert count update: alertId is not a non-empty string");
  }
  if (!Number.isSafeInteger(update.count) || update.count < 1) {
    throw new VigilError(
      ErrorCodes.SINK_WRITE,
      `alert count update for ${update.alertId}: count ${String(update.count)} is not a positive integer`,
    );
  }
  if (typeof update.lastSeen !== "string" || Number.isNaN(Date.parse(update.lastSeen))) {
    throw new VigilError(
      ErrorCodes.SINK_WRITE,
      `alert count update for ${update.alertId}: lastSeen ${String(update.lastSeen)} is not an ISO time`,
    );
  }
}

function severityOf(level: AlertLevel, what: string): number {
  if (!Object.hasOwn(SEVERITY_BY_LEVEL, level)) {
    throw new VigilError(
      ErrorCodes.SINK_WRITE,
      `${what}: unknown level "${String(level)}" (expected one of ${ALERT_LEVELS.join(", ")})`,
    );
  }
  return SEVERITY_BY_LEVEL[level];
}

/** Creates the file owner-only before SQLite opens it (its -wal/-shm inherit the mode). */
function createPrivateFile(path: string): void {
  if (path === ":memory:" || path === "") return;
  try {
    closeSync(openSync(path, "a", 0o600));
    chmodSync(path, 0o600);
  } catch (error) {
    throw new VigilError(ErrorCodes.SINK_WRITE, `cannot create alert store ${path}: ${message(error)}`, {
      cause: error,
    });
  }
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
