// Embedded event store (<dataDir>/events.db): the events writer stores every
// kept event here, the API searches it and builds process trees from it, and
// the reports read it with SQL. Retention (bytes, days) runs after writes in
// small transactions, oldest events first, so a write never waits long.

import { chmodSync, closeSync, openSync } from "node:fs";
import { DatabaseSync, type SQLInputValue, type StatementSync } from "node:sqlite";
import type { EcsDocument } from "../alerts/types";
import { ErrorCodes, VigilError } from "../errors";
import type { Logger } from "../observability/logger";
import { type EventColumns, eventColumns } from "./event-columns";
import { decodeEventCursor, encodeEventCursor } from "./event-cursor";
import { checkEventSearch } from "./event-search-check";
import { buildProcessTree, type ChildLink, type ProcessEventLookup, type TimeWindow } from "./process-tree";
import { EVENT_STORE_MIGRATIONS, EVENT_STORE_SCHEMA_VERSION } from "./sqlite-event-schema";
import type {
  EventPage,
  EventQueries,
  EventRetention,
  EventSearch,
  EventSink,
  EventWriteResult,
  ProcessTree,
  ProcessTreeQuery,
  RefusedEvent,
} from "./types";

export interface SqliteEventStoreOptions {
  /** Database file; created with mode 0600 if missing. */
  path: string;
  retention?: EventRetention;
  /** How long a writer waits for another connection's lock. */
  busyTimeoutMs?: number;
  logger?: Logger;
  /** Clock for the days bound (tests). */
  now?: () => number;
}

export interface EventStoreStats {
  events: number;
  /** Sum of stored document bytes (what retention.maxBytes bounds). */
  bytes: number;
  oldestMs: number | null;
  newestMs: number | null;
}

export interface RetentionResult {
  removed: number;
  removedBytes: number;
}

const DEFAULT_BUSY_TIMEOUT_MS = 5_000;
/** Rows removed per retention transaction: short enough never to hold the write lock long. */
const RETENTION_CHUNK = 2_000;
const DAY_MS = 86_400_000;
/** Text is matched against these columns, case-insensitively. */
const TEXT_COLUMNS = ["command_line", "file_path", "executable"] as const;

export class SqliteEventStore implements EventSink, EventQueries, ProcessEventLookup {
  readonly name = "sqlite";
  readonly path: string;
  private readonly db: DatabaseSync;
  private readonly retention: EventRetention;
  private readonly logger: Logger | undefined;
  private readonly now: () => number;
  private readonly insert: StatementSync;
  private readonly totals: StatementSync;
  private readonly range: StatementSync;
  private readonly statements = new Map<string, StatementSync>();
  private retentionRun: Promise<RetentionResult> | undefined;
  private retentionAgain = false;
  private closed = false;

  constructor(options: SqliteEventStoreOptions) {
    this.path = options.path;
    this.retention = checkRetention(options.retention ?? {});
    this.logger = options.logger;
    this.now = options.now ?? Date.now;
    createPrivateFile(options.path);
    try {
      this.db = new DatabaseSync(options.path, { timeout: options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS });
    } catch (error) {
      throw storeError(`cannot open event store ${options.path}: ${message(error)}`, error);
    }
    try {
      // Incremental auto-vacuum (only settable before the first table) lets
      // retention hand freed pages back to the file system, so the file shrinks
      // with the byte bound instead of only being reused.
      this.db.exec("PRAGMA auto_vacuum = INCREMENTAL");
      this.db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;");
      const from = migrate(this.db);
      if (from !== EVENT_STORE_SCHEMA_VERSION) {
        this.logger?.info(
          { path: options.path, from, to: EVENT_STORE_SCHEMA_VERSION },
          "event store schema migrated",
        );
      }
      this.insert = this.db.prepare(
        `INSERT OR IGNORE INTO events
           (id, ts_ms, host_id, host_name, category, action, process_entity_id, process_pid, parent_entity_id,
            executable, command_line, sha256, user_name, destination_ip, destination_port, direction,
            source_port, file_path, doc, bytes)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      );
      this.totals = this.db.prepare("SELECT events, bytes FROM event_totals");
      this.range = this.db.prepare("SELECT MIN(ts_ms) AS oldest, MAX(ts_ms) AS newest FROM events");
    } catch (error) {
      this.db.close();
      if (error instanceof VigilError) throw error;
      throw storeError(`cannot initialise event store ${options.path}: ${message(error)}`, error);
    }
  }

  /**
   * Stores the documents in one transaction (a redelivered event is kept
   * once); documents that can never be stored are refused, not thrown, so
   * they do not hold up the batch. Retention runs afterwards.
   */
  async write(documents: readonly EcsDocument[]): Promise<EventWriteResult> {
    this.assertOpen();
    const rows: EventColumns[] = [];
    const refused: RefusedEvent[] = [];
    for (const document of documents) {
      const columns = eventColumns(document);
      if ("refused" in columns) refused.push({ id: columns.id, reason: columns.refused });
      else rows.push(columns);
    }
    if (rows.length > 0) {
      this.db.exec("BEGIN IMMEDIATE");
      try {
        for (const row of rows) {
          this.insert.run(
            row.id,
            row.tsMs,
            row.hostId,
            row.hostName,
            row.category,
            row.action,
            row.processEntityId,
            row.processPid,
            row.parentEntityId,
            row.executable,
            row.commandLine,
            row.sha256,
            row.userName,
            row.destinationIp,
            row.destinationPort,
            row.direction,
            row.sourcePort,
            row.filePath,
            row.doc,
            row.bytes,
          );
        }
        this.db.exec("COMMIT");
      } catch (error) {
        this.db.exec("ROLLBACK");
        throw storeError(
          `event store ${this.path}: writing ${rows.length} events failed: ${message(error)}`,
          error,
        );
      }
      this.scheduleRetention();
    }
    return { stored: rows.length, refused };
  }

  /**
   * Removes events past either bound, oldest first, in short transactions
   * with a turn of the event loop between them. Concurrent calls share one
   * run (and a call during a run makes it go round once more).
   */
  enforceRetention(): Promise<RetentionResult> {
    if (this.retentionRun !== undefined) {
      this.retentionAgain = true;
      return this.retentionRun;
    }
    const run = this.runRetention().finally(() => {
      this.retentionRun = undefined;
    });
    this.retentionRun = run;
    return run;
  }

  /** Resolves once no retention run is pending (tests, shutdown). */
  async retentionSettled(): Promise<void> {
    while (this.retentionRun !== undefined) await this.retentionRun.catch(() => undefined);
  }

  async search(search: EventSearch): Promise<EventPage> {
    this.assertOpen();
    const checked = checkEventSearch(search);
    const where: string[] = [];
    const params: SQLInputValue[] = [];
    const equal = (column: string, value: SQLInputValue | undefined) => {
      if (value === undefined) return;
      where.push(`${column} = ?`);
      params.push(value);
    };
    equal("host_id", checked.hostId);
    equal("host_name", checked.hostName);
    if (checked.fromMs !== undefined) {
      where.push("ts_ms >= ?");
      params.push(checked.fromMs);
    }
    if (checked.toMs !== undefined) {
      where.push("ts_ms < ?");
      params.push(checked.toMs);
    }
    if (checked.categories !== undefined && checked.categories.length > 0) {
      // category holds event.category joined by ','; match whole names.
      where.push(
        `(${checked.categories.map(() => "(',' || category || ',') LIKE ? ESCAPE '\\'").join(" OR ")})`,
      );
      for (const category of checked.categories) params.push(`%,${escapeLike(category)},%`);
    }
    if (checked.actions !== undefined && checked.actions.length > 0) {
      where.push(`action IN (${checked.actions.map(() => "?").join(", ")})`);
      params.push(...checked.actions);
    }
    equal("executable", checked.executable);
    equal("process_entity_id", checked.processEntityId);
    equal("process_pid", checked.pid);
    equal("user_name", checked.userName);
    equal("destination_ip", checked.destinationIp);
    equal("destination_port", checked.destinationPort);
    if (checked.filePathPrefix !== undefined) {
      // substr compares exactly (LIKE would fold case and treat % and _ as wildcards).
      where.push("substr(file_path, 1, ?) = ?");
      params.push(checked.filePathPrefix.length, checked.filePathPrefix);
    }
    if (checked.text !== undefined) {
      where.push(`(${TEXT_COLUMNS.map((column) => `${column} LIKE ? ESCAPE '\\'`).join(" OR ")})`);
      const pattern = `%${escapeLike(checked.text)}%`;
      for (const _ of TEXT_COLUMNS) params.push(pattern);
    }
    const desc = checked.order === "desc";
    if (checked.cursor !== undefined) {
      const after = decodeEventCursor(checked.cursor, checked.order);
      const op = desc ? "<" : ">";
      where.push(`(ts_ms ${op} ? OR (ts_ms = ? AND id ${op} ?))`);
      params.push(after.tsMs, after.tsMs, after.id);
    }
    params.push(checked.size + 1);
    const direction = desc ? "DESC" : "ASC";
    const rows = this.statement(
      `SELECT id, ts_ms AS tsMs, doc FROM events${where.length > 0 ? ` WHERE ${where.join(" AND ")}` : ""}
       ORDER BY ts_ms ${direction}, id ${direction} LIMIT ?`,
    ).all(...params) as Array<{ id: string; tsMs: number; doc: string }>;
    const page = rows.slice(0, checked.size);
    const last = page[page.length - 1];
    return {
      events: page.map((row) => JSON.parse(row.doc) as EcsDocument),
      nextCursor:
        rows.length > checked.size && last !== undefined
          ? encodeEventCursor({ order: checked.order, tsMs: last.tsMs, id: last.id })
          : null,
    };
  }

  processTree(query: ProcessTreeQuery): Promise<ProcessTree> {
    this.assertOpen();
    return buildProcessTree(this, query);
  }

  async processEvents(
    hostId: string,
    entityId: string,
    window: TimeWindow,
    limit: number,
  ): Promise<EcsDocument[]> {
    const [clause, params] = windowClause(window);
    const rows = this.statement(
      `SELECT doc FROM events WHERE process_entity_id = ? AND host_id = ?${clause} ORDER BY ts_ms, id LIMIT ?`,
    ).all(entityId, hostId, ...params, limit) as Array<{ doc: string }>;
    return rows.map((row) => JSON.parse(row.doc) as EcsDocument);
  }

  async describingEvent(hostId: string, entityId: string): Promise<EcsDocument | undefined> {
    const row = this.statement(
      `SELECT doc FROM events WHERE process_entity_id = ? AND host_id = ?
       ORDER BY (action = 'exec') DESC, ts_ms DESC, id DESC LIMIT 1`,
    ).get(entityId, hostId) as { doc: string } | undefined;
    return row === undefined ? undefined : (JSON.parse(row.doc) as EcsDocument);
  }

  async children(
    hostId: string,
    parentIds: readonly string[],
    window: TimeWindow,
    limit: number,
  ): Promise<ChildLink[]> {
    const links: ChildLink[] = [];
    const [clause, params] = windowClause(window);
    // Bounded IN lists: SQLite limits bound parameters per statement.
    for (let start = 0; start < parentIds.length && links.length < limit; start += 500) {
      const chunk = parentIds.slice(start, start + 500);
      const rows = this.statement(
        `SELECT process_entity_id AS entityId, parent_entity_id AS parentEntityId, MIN(ts_ms) AS firstMs
           FROM events
          WHERE parent_entity_id IN (${chunk.map(() => "?").join(", ")}) AND host_id = ?
            AND process_entity_id IS NOT NULL${clause}
          GROUP BY process_entity_id, parent_entity_id ORDER BY firstMs, process_entity_id LIMIT ?`,
      ).all(...chunk, hostId, ...params, limit - links.length) as Array<{
        entityId: string;
        parentEntityId: string;
      }>;
      for (const row of rows) links.push({ entityId: row.entityId, parentEntityId: row.parentEntityId });
    }
    return links;
  }

  async entityOfPid(hostId: string, pid: number, atMs: number | undefined): Promise<string | undefined> {
    const at = atMs ?? this.now();
    const before = this.statement(
      `SELECT process_entity_id AS entityId FROM events
        WHERE host_id = ? AND process_pid = ? AND ts_ms <= ? AND process_entity_id IS NOT NULL
        ORDER BY ts_ms DESC LIMIT 1`,
    ).get(hostId, pid, at) as { entityId: string } | undefined;
    if (before !== undefined) return before.entityId;
    const after = this.statement(
      `SELECT process_entity_id AS entityId FROM events
        WHERE host_id = ? AND process_pid = ? AND ts_ms > ? AND process_entity_id IS NOT NULL
        ORDER BY ts_ms ASC LIMIT 1`,
    ).get(hostId, pid, at) as { entityId: string } | undefined;
    return after?.entityId;
  }

  async stats(): Promise<EventStoreStats> {
    this.assertOpen();
    const totals = this.totals.get() as { events: number; bytes: number };
    const range = this.range.get() as { oldest: number | null; newest: number | null };
    return { events: totals.events, bytes: totals.bytes, oldestMs: range.oldest, newestMs: range.newest };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.retentionSettled();
    this.closed = true;
    this.db.close();
  }

  private scheduleRetention(): void {
    if (this.retention.maxBytes === undefined && this.retention.maxDays === undefined) return;
    this.enforceRetention().catch((error: unknown) => {
      this.logger?.warn(
        { err: error, path: this.path },
        "event store retention failed; retried after the next write",
      );
    });
  }

  private async runRetention(): Promise<RetentionResult> {
    const result: RetentionResult = { removed: 0, removedBytes: 0 };
    do {
      this.retentionAgain = false;
      // Let the write that scheduled this return first.
      await yieldTurn();
      if (this.retention.maxDays !== undefined) {
        const cutoff = this.now() - this.retention.maxDays * DAY_MS;
        while (
          !this.closed &&
          this.removeChunk("ts_ms < ?", [cutoff], RETENTION_CHUNK, result) === RETENTION_CHUNK
        ) {
          await yieldTurn();
        }
      }
      if (this.retention.maxBytes !== undefined) {
        const maxBytes = this.retention.maxBytes;
        while (!this.closed) {
          const over = (this.totals.get() as { bytes: number }).bytes - maxBytes;
          if (over <= 0) break;
          this.removeOldestBytes(over, result);
          await yieldTurn();
        }
      }
      if (result.removed > 0 && !this.closed) this.db.exec("PRAGMA incremental_vacuum");
    } while (this.retentionAgain && !this.closed);
    if (result.removed > 0) {
      this.logger?.info({ path: this.path, ...result }, "event store retention removed old events");
    }
    return result;
  }

  /** Removes up to RETENTION_CHUNK oldest events, stopping once `over` bytes are gone. */
  private removeOldestBytes(over: number, result: RetentionResult): void {
    const rows = this.statement("SELECT id, ts_ms AS tsMs, bytes FROM events ORDER BY ts_ms, id LIMIT ?").all(
      RETENTION_CHUNK,
    ) as Array<{ id: string; tsMs: number; bytes: number }>;
    let freed = 0;
    let count = 0;
    for (const row of rows) {
      freed += row.bytes;
      count++;
      if (freed >= over) break;
    }
    const last = rows[count - 1];
    if (last === undefined) return;
    this.removeChunk(
      "(ts_ms < ? OR (ts_ms = ? AND id <= ?))",
      [last.tsMs, last.tsMs, last.id],
      count,
      result,
    );
  }

  private removeChunk(
    condition: string,
    params: SQLInputValue[],
    limit: number,
    result: RetentionResult,
  ): number {
    this.db.exec("BEGIN IMMEDIATE");
    try {
      const removed = this.statement(
        `DELETE FROM events WHERE rowid IN (SELECT rowid FROM events WHERE ${condition} ORDER BY ts_ms, id LIMIT ?)
         RETURNING bytes`,
      ).all(...params, limit) as Array<{ bytes: number }>;
      this.db.exec("COMMIT");
      result.removed += removed.length;
      for (const row of removed) result.removedBytes += row.bytes;
      return removed.length;
    } catch (error) {
      this.db.exec("ROLLBACK");
      throw storeError(`event store ${this.path}: retention failed: ${message(error)}`, error);
    }
  }

  private statement(sql: string): StatementSync {
    let statement = this.statements.get(sql);
    if (statement === undefined) {
      statement = this.db.prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement;
  }

  private assertOpen(): void {
    if (this.closed) throw storeError(`event store ${this.path} is closed`);
  }
}

function windowClause(window: TimeWindow): [string, SQLInputValue[]] {
  let clause = "";
  const params: SQLInputValue[] = [];
  if (window.fromMs !== undefined) {
    clause += " AND ts_ms >= ?";
    params.push(window.fromMs);
  }
  if (window.toMs !== undefined) {
    clause += " AND ts_ms < ?";
    params.push(window.toMs);
  }
  return [clause, params];
}

function checkRetention(retention: EventRetention): EventRetention {
  if (
    retention.maxBytes !== undefined &&
    (!Number.isSafeInteger(retention.maxBytes) || retention.maxBytes <= 0)
  ) {
    throw new VigilError(ErrorCodes.CONFIG_INVALID, "events.retention.maxBytes: must be a positive integer");
  }
  if (retention.maxDays !== undefined && (!Number.isFinite(retention.maxDays) || retention.maxDays <= 0)) {
    throw new VigilError(ErrorCodes.CONFIG_INVALID, "events.retention.maxDays: must be a positive number");
  }
  return { ...retention };
}

/** Applies pending migrations; returns the version found before migrating. */
function migrate(db: DatabaseSync): number {
  db.exec("BEGIN IMMEDIATE");
  try {
    db.exec("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)");
    const row = db.prepare("SELECT MAX(version) AS version FROM schema_version").get() as {
      version: number | null;
    };
    const current = row.version ?? 0;
    if (current > EVENT_STORE_SCHEMA_VERSION) {
      throw storeError(
        `event store schema version ${current} is newer than this Vigil supports (${EVENT_STORE_SCHEMA_VERSION}); upgrade Vigil`,
      );
    }
    for (let version = current + 1; version <= EVENT_STORE_SCHEMA_VERSION; version++) {
      db.exec(EVENT_STORE_MIGRATIONS[version - 1] as string);
    }
    if (current !== EVENT_STORE_SCHEMA_VERSION) {
      db.exec("DELETE FROM schema_version");
      db.prepare("INSERT INTO schema_version (version) VALUES (?)").run(EVENT_STORE_SCHEMA_VERSION);
    }
    db.exec("COMMIT");
    return current;
  } catch (error) {
    db.exec("ROLLBACK");
    throw error;
  }
}

/** Creates the file owner-only before SQLite opens it (its -wal/-shm inherit the mode). */
function createPrivateFile(path: string): void {
  if (path === ":memory:" || path === "") return;
  try {
    closeSync(openSync(path, "a", 0o600));
    chmodSync(path, 0o600);
  } catch (error) {
    throw storeError(`cannot create event store ${path}: ${message(error)}`, error);
  }
}

function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, "\\$&");
}

function yieldTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function storeError(text: string, cause?: unknown): VigilError {
  return new VigilError(ErrorCodes.SINK_WRITE, text, cause === undefined ? undefined : { cause });
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
