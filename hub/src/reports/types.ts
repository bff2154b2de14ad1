// A tiered report: what happened on one host (or the whole fleet) in one
// period. Level 1 comes from aggregations in the event store; every level
// above is the merge of the level below, so lists that may be cut (commands,
// users) say whether they are complete.

import type { AlertLevel } from "@vigil/common";
import type { ReportLevel } from "./periods";

export const REPORT_SCHEMA_VERSION = 1;
/** Scope of the fleet-wide reports; a host's scope is "host:<host.id>". */
export const FLEET_SCOPE = "fleet";

export interface CountEntry {
  key: string;
  count: number;
}

/** A bounded count list: the biggest first; complete is false once an entry was cut anywhere below. */
export interface TopList {
  entries: CountEntry[];
  complete: boolean;
}

export interface NewExecutable {
  hostId: string;
  sha256: string;
  executable: string | null;
  /** First event with this hash on this host (ISO). */
  firstSeen: string;
}

export interface NewListeningPort {
  hostId: string;
  port: number;
  executable: string | null;
  firstSeen: string;
}

export interface NewDestination {
  hostId: string;
  ip: string;
  port: number | null;
  firstSeen: string;
}

/** First sightings in the period; `count` is exact, `items` holds at most the report's item bound. */
export interface NewItems<T> {
  count: number;
  items: T[];
}

export interface RuleCount {
  ruleId: string;
  ruleName: string;
  level: AlertLevel;
  count: number;
}

export interface AlertSummary {
  total: number;
  byRule: RuleCount[];
  bySeverity: Record<AlertLevel, number>;
}

export interface Delta {
  current: number;
  previous: number;
  change: number;
  /** change / previous × 100, one decimal; null when previous is 0. */
  changePercent: number | null;
}

/** Levels ≥ 2: this period against the one before (null counts when there was no report before). */
export interface Trend {
  previousStart: string;
  previousLabel: string;
  /** False when no report of the previous period exists: every "previous" is then 0. */
  previousFound: boolean;
  events: Delta;
  alerts: Delta;
  newExecutables: Delta;
  newListeningPorts: Delta;
  newDestinations: Delta;
  /** Per event type, the largest absolute changes first. */
  byType: Array<{ key: string } & Delta>;
}

export interface Report {
  schema: typeof REPORT_SCHEMA_VERSION;
  /** "<level>/<scope>/<period start ISO>": the Elasticsearch _id and the API's name for it. */
  id: string;
  level: ReportLevel;
  levelName: string;
  scope: string;
  /** host.name of a host scope, as last seen. */
  hostName: string | null;
  period: { start: string; end: string; label: string };
  generatedAt: string;
  /** What the report was built from: a level-1 store fingerprint, or the children merged. */
  basis: ReportBasis;
  /** Hosts with events or alerts in the period. */
  hosts: number;
  events: { total: number; byType: TopList };
  commands: TopList;
  users: TopList;
  newExecutables: NewItems<NewExecutable>;
  newListeningPorts: NewItems<NewListeningPort>;
  newDestinations: NewItems<NewDestination>;
  alerts: AlertSummary;
  trend: Trend | null;
}

export interface ReportBasis {
  /** Events and alerts counted in the store for the period (level 1; the sum of children above). */
  events: number;
  alerts: number;
  /** Child reports merged (0 for level 1). */
  children: number;
}

/** Bounds on what a report keeps (config reports.limits). */
export interface ReportLimits {
  /** Commands, users and event types kept per report. */
  topEntries: number;
  /** New executables / ports / destinations listed per report. */
  newItems: number;
}

export const DEFAULT_REPORT_LIMITS: ReportLimits = { topEntries: 100, newItems: 500 };

/** One line of a listing (GET /api/v1/reports). */
export interface ReportSummary {
  id: string;
  level: ReportLevel;
  levelName: string;
  scope: string;
  hostName: string | null;
  period: { start: string; end: string; label: string };
  generatedAt: string;
  events: number;
  alerts: number;
  newExecutables: number;
  hasAnalysis: boolean;
}

export function summaryOf(report: Report, hasAnalysis: boolean): ReportSummary {
  return {
    id: report.id,
    level: report.level,
    levelName: report.levelName,
    scope: report.scope,
    hostName: report.hostName,
    period: report.period,
    generatedAt: report.generatedAt,
    events: report.events.total,
    alerts: report.alerts.total,
    newExecutables: report.newExecutables.count,
    hasAnalysis,
  };
}
