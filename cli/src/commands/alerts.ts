import { ALERT_LEVELS, type AlertLevel, type EcsDocument, SEVERITY_BY_LEVEL } from "@vigil/common";
import { relativeTime, renderTable, shortTime } from "../output/table";
import { type ApiOptions, apiRequest } from "./api-client";

// `vigil alerts`: alert search through the REST API (filters, newest N, or a
// time range), printed oldest first as a table or JSON lines. --follow keeps
// printing new alerts: see alerts-follow.ts (API polling) and
// alerts-follow-nats.ts (the VIGIL_ALERTS stream).

export interface AlertFilters {
  /** This level and above. */
  level?: AlertLevel;
  /** Only these levels. */
  levels?: AlertLevel[];
  rule?: string;
  host?: string;
  /** Case-insensitive text in rule name, message, command line, host name. */
  text?: string;
  /** ISO times (resolved from "15m"-style input by parseTime). */
  since?: string;
  until?: string;
}

export interface AlertsCommandOptions extends ApiOptions, AlertFilters {
  /** How many alerts to print (the newest ones). */
  limit: number;
}

/** The largest page the API serves. */
export const API_PAGE = 1000;

/** "15m", "2h", "7d", "30s" before now, or an ISO time; the ISO time it means. */
export function parseTime(value: string, option: string, nowMs = Date.now()): string {
  const relative = /^(\d+)([smhd])$/.exec(value.trim());
  if (relative) {
    const unit = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[relative[2] as "s" | "m" | "h" | "d"];
    return new Date(nowMs - Number(relative[1]) * unit).toISOString();
  }
  const ms = Date.parse(value);
  if (!Number.isFinite(ms)) {
    throw new Error(
      `${option}: "${value}" is not a time (an ISO time like 2025-01-15T12:00:00Z, or 30s, 15m, 2h, 7d ago)`,
    );
  }
  return new Date(ms).toISOString();
}

export function parseLevel(value: string, option: string): AlertLevel {
  if (!(ALERT_LEVELS as readonly string[]).includes(value)) {
    throw new Error(`${option}: "${value}" is not a level (${ALERT_LEVELS.join(", ")})`);
  }
  return value as AlertLevel;
}

export function alertIdOf(alert: EcsDocument): string {
  return String((alert.event as EcsDocument | undefined)?.id ?? "");
}

/** vigil.alert.level, else the level whose ECS severity the alert carries. */
export function alertLevelOf(alert: EcsDocument): string {
  const level = ((alert.vigil as EcsDocument | undefined)?.alert as EcsDocument | undefined)?.level;
  if (typeof level === "string") return level;
  const severity = (alert.event as EcsDocument | undefined)?.severity;
  return ALERT_LEVELS.find((name) => SEVERITY_BY_LEVEL[name] === severity) ?? "";
}

/** Alert time in ms as the stores index it: @timestamp, else when the alert was made. */
export function alertTimeMs(alert: EcsDocument): number {
  const at = Date.parse(String(alert["@timestamp"]));
  if (Number.isFinite(at)) return at;
  const created = Date.parse(String((alert.event as EcsDocument | undefined)?.created));
  return Number.isFinite(created) ? created : 0;
}

/** Oldest first, then by id: the order alerts are printed in. */
export function chronological(alerts: EcsDocument[]): EcsDocument[] {
  return alerts
    .map((alert) => [alertTimeMs(alert), alertIdOf(alert), alert] as const)
    .sort((a, b) => a[0] - b[0] || (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0))
    .map(([, , alert]) => alert);
}

const field = (alert: EcsDocument, group: string, name: string) =>
  String(((alert[group] ?? {}) as EcsDocument)[name] ?? "-");

const COLUMNS = [
  { header: "TIME", value: (a: EcsDocument) => shortTime(a["@timestamp"]) },
  { header: "AGE", value: (a: EcsDocument) => relativeTime(alertTimeMs(a)) },
  { header: "LEVEL", value: (a: EcsDocument) => alertLevelOf(a).toUpperCase() || "-" },
  { header: "HOST", value: (a: EcsDocument) => field(a, "host", "name"), shrink: true },
  { header: "RULE", value: (a: EcsDocument) => field(a, "rule", "name"), shrink: true },
  { header: "MESSAGE", value: (a: EcsDocument) => String(a.message ?? ""), shrink: true },
];

/** A follow prints rows as they come: fixed widths keep them aligned, and an age would go stale. */
const STREAM_COLUMNS = [
  { ...COLUMNS[0], width: 19 },
  { ...COLUMNS[2], width: 13 },
  { ...COLUMNS[3], width: 20 },
  { ...COLUMNS[4], width: 40 },
  COLUMNS[5],
];

/**
 * Prints alerts as JSON lines or a table. `stream`: rows of a follow, with
 * fixed widths, the header only when `stream.header`.
 */
export function printAlerts(alerts: EcsDocument[], json: boolean, stream?: { header: boolean }): void {
  if (alerts.length === 0) return;
  if (json) {
    for (const alert of alerts) process.stdout.write(`${JSON.stringify(alert)}\n`);
    return;
  }
  const table = renderTable(alerts, stream ? STREAM_COLUMNS : COLUMNS);
  process.stdout.write(!stream || stream.header ? table : table.slice(table.indexOf("\n") + 1));
}

export interface AlertPage {
  alerts: EcsDocument[];
  total: number;
  totalExact: boolean;
  nextCursor: string | null;
}

/** One page of GET /api/v1/alerts with the filters (newest first). */
export function fetchAlertPage(
  options: ApiOptions,
  filters: AlertFilters,
  limit: number,
  cursor?: string,
): Promise<AlertPage> {
  const query = new URLSearchParams({ limit: String(limit) });
  if (filters.level) query.set("level", filters.level);
  for (const level of filters.levels ?? []) query.append("levels", level);
  if (filters.rule) query.set("rule", filters.rule);
  if (filters.host) query.set("host", filters.host);
  if (filters.text) query.set("q", filters.text);
  if (filters.since) query.set("since", filters.since);
  if (filters.until) query.set("until", filters.until);
  if (cursor) query.set("cursor", cursor);
  return apiRequest<AlertPage>(options, "GET", `/api/v1/alerts?${query}`);
}

/** The newest `limit` matching alerts (every page needed), newest first, and the total. */
export async function searchAlerts(
  options: ApiOptions,
  filters: AlertFilters,
  limit: number,
): Promise<{ alerts: EcsDocument[]; total: number; totalExact: boolean }> {
  const alerts: EcsDocument[] = [];
  let cursor: string | undefined;
  let total = 0;
  let totalExact = true;
  while (alerts.length < limit) {
    const page = await fetchAlertPage(options, filters, Math.min(API_PAGE, limit - alerts.length), cursor);
    if (cursor === undefined) ({ total, totalExact } = page);
    alerts.push(...page.alerts);
    if (!page.nextCursor || page.alerts.length === 0) break;
    cursor = page.nextCursor;
  }
  return { alerts, total, totalExact };
}

/** `vigil alerts` without --follow: the newest matches, oldest first, and how many there are in all (stderr). */
export async function showAlerts(options: AlertsCommandOptions): Promise<void> {
  const { alerts, total, totalExact } = await searchAlerts(options, options, options.limit);
  printAlerts(chronological(alerts), options.json);
  if (!options.json) {
    const all = `${total}${totalExact ? "" : "+"}`;
    process.stderr.write(
      alerts.length === 0
        ? "no alerts match\n"
        : alerts.length < total || !totalExact
          ? `${alerts.length} newest of ${all} alerts (--limit, --since/--until for others)\n`
          : `${alerts.length} alerts\n`,
    );
  }
}
