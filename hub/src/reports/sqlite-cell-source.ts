// Level-1 aggregates from the embedded stores: GROUP BY queries on
// <dataDir>/events.db (table events) and the alert store (table alerts), and
// first sightings from a small per-host table of its own
// (<reports dir>/first-seen.db). Only grouped rows leave SQLite.
//
// "New" means never seen on that host before, in any earlier event the store
// held when the sightings were swept: before a cell is built, every event up
// to the cell's end is folded into the first-seen table (the first time, the
// whole store in one grouped pass), and the cell itself is folded again so
// late events lower a first sighting. The table outlives event retention.

import { existsSync } from "node:fs";
import { DatabaseSync, type StatementSync } from "node:sqlite";
import { ALERT_LEVELS, type AlertLevel, ErrorCodes, VigilError } from "@vigil/common";
import { type CellSource, type StoreFingerprint, UNKNOWN_HOST } from "./cell-source";
import type { HostCell } from "./merge-reports";
import type { Period } from "./periods";
import type {
  CountEntry,
  NewDestination,
  NewExecutable,
  NewListeningPort,
  ReportLimits,
  TopList,
} from "./types";

export interface SqliteCellSourceOptions {
  /** The event store (events.db); absent or empty, cells have no events. */
  eventsPath: string;
  /** The SQLite alert store; absent, cells have no alerts. */
  alertsPath?: string;
  /** The first-seen table's file (created, mode 0600). */
  firstSeenPath: string;
  limits: ReportLimits;
  busyTimeoutMs?: number;
}

type SightingKind = "exe" | "listen" | "dest";

const FIRST_SEEN_SCHEMA = `
  CREATE TABLE IF NOT EXISTS first_seen (
    host_id  TEXT NOT NULL,
    kind     TEXT NOT NULL,
    value    TEXT NOT NULL,
    first_ms INTEGER NOT NULL,
    detail   TEXT,
    PRIMARY KEY (host_id, kind, value)
  ) WITHOUT ROWID;
  CREATE INDEX IF NOT EXISTS first_seen_by_time ON first_seen (kind, first_ms);
  CREATE TABLE IF NOT EXISTS sweep (swept_to_ms INTEGER NOT NULL);`;

/** What each kind of first sighting is, in SQL over the events table (bare columns come from the MIN row). */
const SIGHTINGS: Record<SightingKind, string> = {
  exe: `SELECT host_id, sha256 AS value, MIN(ts_ms) AS first_ms, executable AS detail
          FROM events WHERE ts_ms >= ? AND ts_ms < ? AND sha256 IS NOT NULL
         GROUP BY host_id, sha256`,
  listen: `SELECT host_id, CAST(source_port AS TEXT) AS value, MIN(ts_ms) AS first_ms, executable AS detail
             FROM events WHERE ts_ms >= ? AND ts_ms < ? AND action = 'listen' AND source_port IS NOT NULL
            GROUP BY host_id, source_port`,
  dest: `SELECT host_id, destination_ip || '|' || COALESCE(destination_port, '') AS value, MIN(ts_ms) AS first_ms,
                executable AS detail
           FROM events WHERE ts_ms >= ? AND ts_ms < ? AND direction = 'egress' AND destination_ip IS NOT NULL
          GROUP BY host_id, destination_ip, destination_port`,
};

function topQuery(column: string, extra: string): string {
  // The per-host top N (+1, to know whether the list was cut) without reading every group.
  return `SELECT host_id, key, n, rn FROM (
            SELECT host_id, ${column} AS key, COUNT(*) AS n,
                   ROW_NUMBER() OVER (PARTITION BY host_id ORDER BY COUNT(*) DESC, ${column}) AS rn
              FROM events WHERE ts_ms >= ? AND ts_ms < ? AND ${column} IS NOT NULL ${extra}
             GROUP BY host_id, ${column})
          WHERE rn <= ?`;
}

export class SqliteCellSource implements CellSource {
  readonly name = "sqlite";
  private readonly firstSeen: DatabaseSync;
  private events: DatabaseSync | undefined;
  private alerts: DatabaseSync | undefined;
  private readonly statements = new Map<string, StatementSync>();

  constructor(private readonly options: SqliteCellSourceOptions) {
    try {
      this.firstSeen = new DatabaseSync(options.firstSeenPath, { timeout: options.busyTimeoutMs ?? 5000 });
      this.firstSeen.exec(`PRAGMA journal_mode = WAL; ${FIRST_SEEN_SCHEMA}`);
    } catch (error) {
      throw new VigilError(
        ErrorCodes.SINK_WRITE,
        `reports: cannot open the first-seen table ${options.firstSeenPath}: ${(error as Error).message}`,
        { cause: error },
      );
    }
  }

  async hostCells(cell: Period): Promise<HostCell[]> {
    const hosts = new Map<string, HostCell>();
    const host = (hostId: string, hostName: string | null): HostCell => {
      let entry = hosts.get(hostId);
      if (!entry) {
        entry = emptyCell(hostId, hostName);
        hosts.set(hostId, entry);
      }
      if (entry.hostName === null && hostName !== null) entry.hostName = hostName;
      return entry;
    };
    const events = this.eventsDb();
    if (events) {
      const range = [cell.startMs, cell.endMs] as const;
      this.sweep(events, cell);
      const limit = this.options.limits.topEntries;
      for (const row of this.all(
        events,
        `SELECT host_id, MAX(host_name) AS host_name, COUNT(*) AS n FROM events
          WHERE ts_ms >= ? AND ts_ms < ? GROUP BY host_id`,
        ...range,
      ) as Array<{ host_id: string; host_name: string | null; n: number }>) {
        host(row.host_id, row.host_name).events = row.n;
      }
      const column = "COALESCE(category, '-') || '/' || COALESCE(action, '-')";
      fillTop(hosts, this.all(events, topQuery(column, ""), ...range, limit + 1), limit, "byType");
      fillTop(
        hosts,
        this.all(events, topQuery("command_line", "AND action = 'exec'"), ...range, limit + 1),
        limit,
        "commands",
      );
      fillTop(hosts, this.all(events, topQuery("user_name", ""), ...range, limit + 1), limit, "users");
      for (const row of this.newSightings("exe", cell)) {
        pushNew<NewExecutable>(hosts, row.host_id, "newExecutables", this.options.limits.newItems, {
          hostId: row.host_id,
          sha256: row.value,
          executable: row.detail,
          firstSeen: new Date(row.first_ms).toISOString(),
        });
      }
      for (const row of this.newSightings("listen", cell)) {
        pushNew<NewListeningPort>(hosts, row.host_id, "newListeningPorts", this.options.limits.newItems, {
          hostId: row.host_id,
          port: Number(row.value),
          executable: row.detail,
          firstSeen: new Date(row.first_ms).toISOString(),
        });
      }
      for (const row of this.newSightings("dest", cell)) {
        const [ip, port] = row.value.split("|");
        pushNew<NewDestination>(hosts, row.host_id, "newDestinations", this.options.limits.newItems, {
          hostId: row.host_id,
          ip: ip ?? row.value,
          port: port ? Number(port) : null,
          firstSeen: new Date(row.first_ms).toISOString(),
        });
      }
    }
    const alerts = this.alertsDb();
    if (alerts) {
      for (const row of this.all(
        alerts,
        `SELECT COALESCE(json_extract(document, '$.host.id'), '${UNKNOWN_HOST}') AS host_id,
                MAX(host_name) AS host_name, rule_id, MAX(rule_name) AS rule_name, level, COUNT(*) AS n
           FROM alerts WHERE timestamp_us >= ? AND timestamp_us < ?
          GROUP BY 1, rule_id, level`,
        cell.startMs * 1000,
        cell.endMs * 1000,
      ) as Array<{
        host_id: string;
        host_name: string | null;
        rule_id: string;
        rule_name: string;
        level: string;
        n: number;
      }>) {
        if (!(ALERT_LEVELS as readonly string[]).includes(row.level)) continue;
        host(row.host_id, row.host_name).alerts.push({
          ruleId: row.rule_id,
          ruleName: row.rule_name,
          level: row.level as AlertLevel,
          count: row.n,
        });
      }
    }
    return [...hosts.values()].sort((a, b) => (a.hostId < b.hostId ? -1 : a.hostId > b.hostId ? 1 : 0));
  }

  async fingerprint(cell: Period): Promise<StoreFingerprint> {
    const events = this.eventsDb();
    const alerts = this.alertsDb();
    const count = (db: DatabaseSync | undefined, sql: string, from: number, to: number) =>
      db ? (this.statement(db, sql).get(from, to) as { n: number }).n : 0;
    return {
      events: count(
        events,
        "SELECT COUNT(*) AS n FROM events WHERE ts_ms >= ? AND ts_ms < ?",
        cell.startMs,
        cell.endMs,
      ),
      alerts: count(
        alerts,
        "SELECT COUNT(*) AS n FROM alerts WHERE timestamp_us >= ? AND timestamp_us < ?",
        cell.startMs * 1000,
        cell.endMs * 1000,
      ),
    };
  }

  async earliest(): Promise<number | undefined> {
    const events = this.eventsDb();
    const alerts = this.alertsDb();
    const first = (db: DatabaseSync | undefined, sql: string) =>
      db ? ((this.statement(db, sql).get() as { first: number | null }).first ?? undefined) : undefined;
    const event = first(events, "SELECT MIN(ts_ms) AS first FROM events");
    const alertUs = first(alerts, "SELECT MIN(timestamp_us) AS first FROM alerts");
    const alert = alertUs === undefined ? undefined : Math.floor(alertUs / 1000);
    if (event === undefined) return alert;
    return alert === undefined ? event : Math.min(event, alert);
  }

  async close(): Promise<void> {
    this.statements.clear();
    this.events?.close();
    this.alerts?.close();
    this.firstSeen.close();
    this.events = undefined;
    this.alerts = undefined;
  }

  /**
   * Folds first sightings of every event before the cell's end into the
   * table: what was not swept yet, then the cell again (late events).
   */
  private sweep(events: DatabaseSync, cell: Period): void {
    const row = this.statement(this.firstSeen, "SELECT MAX(swept_to_ms) AS swept FROM sweep").get() as {
      swept: number | null;
    };
    const swept = row.swept ?? Number.MIN_SAFE_INTEGER;
    const ranges: Array<[number, number]> = [[cell.startMs, cell.endMs]];
    if (swept < cell.endMs) ranges.push([swept, cell.endMs]);
    const upsert = this.statement(
      this.firstSeen,
      `INSERT INTO first_seen (host_id, kind, value, first_ms, detail) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (host_id, kind, value) DO UPDATE SET first_ms = excluded.first_ms, detail = excluded.detail
       WHERE excluded.first_ms < first_seen.first_ms`,
    );
    this.firstSeen.exec("BEGIN IMMEDIATE");
    try {
      for (const [from, to] of ranges) {
        for (const kind of Object.keys(SIGHTINGS) as SightingKind[]) {
          for (const sighting of this.statement(events, SIGHTINGS[kind]).iterate(from, to) as Iterable<{
            host_id: string;
            value: string;
            first_ms: number;
            detail: string | null;
          }>) {
            upsert.run(sighting.host_id, kind, sighting.value, sighting.first_ms, sighting.detail);
          }
        }
      }
      if (swept < cell.endMs) {
        this.firstSeen.exec("DELETE FROM sweep");
        this.statement(this.firstSeen, "INSERT INTO sweep (swept_to_ms) VALUES (?)").run(cell.endMs);
      }
      this.firstSeen.exec("COMMIT");
    } catch (error) {
      this.firstSeen.exec("ROLLBACK");
      throw new VigilError(
        ErrorCodes.SINK_WRITE,
        `reports: updating first sightings for ${cell.label} failed: ${(error as Error).message}`,
        { cause: error },
      );
    }
  }

  private newSightings(
    kind: SightingKind,
    cell: Period,
  ): Array<{ host_id: string; value: string; first_ms: number; detail: string | null }> {
    return this.all(
      this.firstSeen,
      `SELECT host_id, value, first_ms, detail FROM first_seen
        WHERE kind = ? AND first_ms >= ? AND first_ms < ? ORDER BY first_ms, host_id, value`,
      kind,
      cell.startMs,
      cell.endMs,
    ) as Array<{ host_id: string; value: string; first_ms: number; detail: string | null }>;
  }

  private eventsDb(): DatabaseSync | undefined {
    this.events ??= openIfPresent(this.options.eventsPath, "events", this.options.busyTimeoutMs);
    return this.events;
  }

  private alertsDb(): DatabaseSync | undefined {
    if (!this.options.alertsPath) return undefined;
    this.alerts ??= openIfPresent(this.options.alertsPath, "alerts", this.options.busyTimeoutMs);
    return this.alerts;
  }

  private statement(db: DatabaseSync, sql: string): StatementSync {
    const key = `${db === this.firstSeen ? "f" : db === this.events ? "e" : "a"}:${sql}`;
    let statement = this.statements.get(key);
    if (!statement) {
      statement = db.prepare(sql);
      this.statements.set(key, statement);
    }
    return statement;
  }

  private all(db: DatabaseSync, sql: string, ...params: number[] | Array<number | string>): unknown[] {
    try {
      return this.statement(db, sql).all(...params);
    } catch (error) {
      throw new VigilError(
        ErrorCodes.EVENT_QUERY,
        `reports: store query failed: ${(error as Error).message}`,
        {
          cause: error,
        },
      );
    }
  }
}

/** A store that has not been created yet has nothing to report; it is opened once it exists. */
function openIfPresent(path: string, table: string, timeout = 5000): DatabaseSync | undefined {
  if (!existsSync(path)) return undefined;
  const db = new DatabaseSync(path, { timeout });
  const found = db
    .prepare("SELECT 1 AS found FROM sqlite_master WHERE type = 'table' AND name = ?")
    .get(table);
  if (found === undefined) {
    db.close();
    return undefined;
  }
  return db;
}

function emptyTop(): TopList {
  return { entries: [], complete: true };
}

function emptyCell(hostId: string, hostName: string | null): HostCell {
  return {
    hostId,
    hostName,
    events: 0,
    byType: emptyTop(),
    commands: emptyTop(),
    users: emptyTop(),
    newExecutables: { count: 0, items: [] },
    newListeningPorts: { count: 0, items: [] },
    newDestinations: { count: 0, items: [] },
    alerts: [],
  };
}

function fillTop(
  hosts: Map<string, HostCell>,
  rows: unknown[],
  limit: number,
  field: "byType" | "commands" | "users",
): void {
  for (const row of rows as Array<{ host_id: string; key: string; n: number; rn: number }>) {
    const cell = hosts.get(row.host_id);
    if (!cell) continue;
    if (row.rn > limit) cell[field].complete = false;
    else cell[field].entries.push({ key: row.key, count: row.n } satisfies CountEntry);
  }
}

function pushNew<T>(
  hosts: Map<string, HostCell>,
  hostId: string,
  field: "newExecutables" | "newListeningPorts" | "newDestinations",
  limit: number,
  item: T,
): void {
  let cell = hosts.get(hostId);
  if (!cell) {
    cell = emptyCell(hostId, null);
    hosts.set(hostId, cell);
  }
  const list = cell[field] as { count: number; items: T[] };
  list.count++;
  if (list.items.length < limit) list.items.push(item);
}
