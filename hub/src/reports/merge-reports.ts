// Building reports: a level-1 report from one host's cell aggregates, any
// other report by merging reports (hosts into the fleet, children into their
// parent period), and the trend against the previous period. Pure functions:
// no store, no clock (the caller passes generatedAt).

import { ALERT_LEVELS, type AlertLevel } from "@vigil/common";
import { LEVEL_NAMES, type Period } from "./periods";
import {
  type AlertSummary,
  type CountEntry,
  type Delta,
  type NewItems,
  REPORT_SCHEMA_VERSION,
  type Report,
  type ReportLimits,
  type RuleCount,
  type TopList,
  type Trend,
} from "./types";

/** One host's level-1 aggregates, as a cell source answers them. */
export interface HostCell {
  hostId: string;
  hostName: string | null;
  events: number;
  byType: TopList;
  commands: TopList;
  users: TopList;
  newExecutables: NewItems<Report["newExecutables"]["items"][number]>;
  newListeningPorts: NewItems<Report["newListeningPorts"]["items"][number]>;
  newDestinations: NewItems<Report["newDestinations"]["items"][number]>;
  alerts: RuleCount[];
}

export function hostScope(hostId: string): string {
  return `host:${hostId}`;
}

export function reportId(level: number, scope: string, startMs: number): string {
  return `${level}/${scope}/${new Date(startMs).toISOString()}`;
}

function periodFields(period: Period): Report["period"] {
  return {
    start: new Date(period.startMs).toISOString(),
    end: new Date(period.endMs).toISOString(),
    label: period.label,
  };
}

/** Biggest count first, then key, so equal inputs give equal reports. */
function byCountThenKey(left: CountEntry, right: CountEntry): number {
  return right.count - left.count || (left.key < right.key ? -1 : left.key > right.key ? 1 : 0);
}

/** Sums count lists; the result keeps `limit` entries and is complete only if every input was and nothing was cut. */
export function mergeTopLists(lists: readonly TopList[], limit: number): TopList {
  const counts = new Map<string, number>();
  for (const list of lists) {
    for (const entry of list.entries) counts.set(entry.key, (counts.get(entry.key) ?? 0) + entry.count);
  }
  const entries = [...counts].map(([key, count]) => ({ key, count })).sort(byCountThenKey);
  return {
    entries: entries.slice(0, limit),
    complete: lists.every((list) => list.complete) && entries.length <= limit,
  };
}

function mergeNewItems<T extends { hostId: string; firstSeen: string }>(
  lists: ReadonlyArray<NewItems<T>>,
  limit: number,
): NewItems<T> {
  const items = lists
    .flatMap((list) => list.items)
    .sort((a, b) => (a.firstSeen < b.firstSeen ? -1 : a.firstSeen > b.firstSeen ? 1 : 0));
  return { count: lists.reduce((sum, list) => sum + list.count, 0), items: items.slice(0, limit) };
}

function emptySeverity(): Record<AlertLevel, number> {
  return Object.fromEntries(ALERT_LEVELS.map((level) => [level, 0])) as Record<AlertLevel, number>;
}

export function summariseAlerts(rules: readonly RuleCount[]): AlertSummary {
  const byRule = new Map<string, RuleCount>();
  for (const rule of rules) {
    const seen = byRule.get(rule.ruleId);
    if (seen) seen.count += rule.count;
    else byRule.set(rule.ruleId, { ...rule });
  }
  const bySeverity = emptySeverity();
  let total = 0;
  for (const rule of byRule.values()) {
    bySeverity[rule.level] += rule.count;
    total += rule.count;
  }
  const sorted = [...byRule.values()].sort(
    (a, b) => b.count - a.count || (a.ruleId < b.ruleId ? -1 : a.ruleId > b.ruleId ? 1 : 0),
  );
  return { total, byRule: sorted, bySeverity };
}

/** The level-1 report of one host. */
export function cellReport(period: Period, cell: HostCell, limits: ReportLimits, generatedAt: Date): Report {
  const scope = hostScope(cell.hostId);
  const alerts = summariseAlerts(cell.alerts);
  return {
    schema: REPORT_SCHEMA_VERSION,
    id: reportId(period.level, scope, period.startMs),
    level: period.level,
    levelName: LEVEL_NAMES[period.level],
    scope,
    hostName: cell.hostName,
    period: periodFields(period),
    generatedAt: generatedAt.toISOString(),
    basis: { events: cell.events, alerts: alerts.total, children: 0 },
    hosts: 1,
    events: { total: cell.events, byType: mergeTopLists([cell.byType], limits.topEntries) },
    commands: mergeTopLists([cell.commands], limits.topEntries),
    users: mergeTopLists([cell.users], limits.topEntries),
    newExecutables: mergeNewItems([cell.newExecutables], limits.newItems),
    newListeningPorts: mergeNewItems([cell.newListeningPorts], limits.newItems),
    newDestinations: mergeNewItems([cell.newDestinations], limits.newItems),
    alerts,
    trend: null,
  };
}

/**
 * One report from several of the same scope (a period's children) or of the
 * same period (hosts into the fleet). Counts add up exactly; `hostCount` is the
 * number of distinct hosts below, which the caller knows (the host reports of
 * the period) and the parts cannot tell (a host is in many children).
 */
export function mergeReports(
  period: Period,
  scope: string,
  parts: readonly Report[],
  limits: ReportLimits,
  generatedAt: Date,
  hostCount: number,
): Report {
  const hostName = parts.map((part) => part.hostName).findLast((name) => name !== null) ?? null;
  return {
    schema: REPORT_SCHEMA_VERSION,
    id: reportId(period.level, scope, period.startMs),
    level: period.level,
    levelName: LEVEL_NAMES[period.level],
    scope,
    hostName: scope.startsWith("host:") ? hostName : null,
    period: periodFields(period),
    generatedAt: generatedAt.toISOString(),
    basis: {
      events: parts.reduce((sum, part) => sum + part.basis.events, 0),
      alerts: parts.reduce((sum, part) => sum + part.basis.alerts, 0),
      children: parts.length,
    },
    hosts: hostCount,
    events: {
      total: parts.reduce((sum, part) => sum + part.events.total, 0),
      byType: mergeTopLists(
        parts.map((part) => part.events.byType),
        limits.topEntries,
      ),
    },
    commands: mergeTopLists(
      parts.map((part) => part.commands),
      limits.topEntries,
    ),
    users: mergeTopLists(
      parts.map((part) => part.users),
      limits.topEntries,
    ),
    newExecutables: mergeNewItems(
      parts.map((part) => part.newExecutables),
      limits.newItems,
    ),
    newListeningPorts: mergeNewItems(
      parts.map((part) => part.newListeningPorts),
      limits.newItems,
    ),
    newDestinations: mergeNewItems(
      parts.map((part) => part.newDestinations),
      limits.newItems,
    ),
    alerts: summariseAlerts(parts.flatMap((part) => part.alerts.byRule)),
    trend: null,
  };
}

function delta(current: number, previous: number): Delta {
  const change = current - previous;
  return {
    current,
    previous,
    change,
    changePercent: previous === 0 ? null : Math.round((change / previous) * 1000) / 10,
  };
}

/** How many event types the trend lists (largest absolute changes). */
const TREND_TYPES = 20;

/** The trend of `report` against the previous period's report of the same scope (absent: all zero). */
export function trendOf(report: Report, previousPeriod: Period, previous: Report | undefined): Trend {
  const before = new Map((previous?.events.byType.entries ?? []).map((entry) => [entry.key, entry.count]));
  const now = new Map(report.events.byType.entries.map((entry) => [entry.key, entry.count]));
  const keys = new Set([...before.keys(), ...now.keys()]);
  const byType = [...keys]
    .map((key) => ({ key, ...delta(now.get(key) ?? 0, before.get(key) ?? 0) }))
    .sort((a, b) => Math.abs(b.change) - Math.abs(a.change) || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
    .slice(0, TREND_TYPES);
  return {
    previousStart: new Date(previousPeriod.startMs).toISOString(),
    previousLabel: previousPeriod.label,
    previousFound: previous !== undefined,
    events: delta(report.events.total, previous?.events.total ?? 0),
    alerts: delta(report.alerts.total, previous?.alerts.total ?? 0),
    newExecutables: delta(report.newExecutables.count, previous?.newExecutables.count ?? 0),
    newListeningPorts: delta(report.newListeningPorts.count, previous?.newListeningPorts.count ?? 0),
    newDestinations: delta(report.newDestinations.count, previous?.newDestinations.count ?? 0),
    byType,
  };
}
