// What is sent for analysis, built from allowed fields only: a report's
// counts and the lists whose field is allowed, or an alert's allowed fields.
// Redacted fields keep their shape with placeholders ("user.name#2"), the
// same value getting the same placeholder within one request, so the model
// still sees repetition without the value.

import type { EcsDocument } from "@vigil/common";
import type { Report } from "../reports/types";
import type { TriageField } from "./triage-config";

export interface PayloadPolicy {
  fields: readonly TriageField[];
  redact: readonly TriageField[];
  maxBytes: number;
}

class Placeholders {
  private readonly seen = new Map<string, string>();
  constructor(private readonly redact: ReadonlySet<TriageField>) {}

  value<T extends string | number>(field: TriageField, value: T): T | string {
    if (!this.redact.has(field)) return value;
    const key = `${field}\0${value}`;
    let placeholder = this.seen.get(key);
    if (!placeholder) {
      placeholder = `${field}#${[...this.seen.keys()].filter((k) => k.startsWith(`${field}\0`)).length + 1}`;
      this.seen.set(key, placeholder);
    }
    return placeholder;
  }
}

type Json = Record<string, unknown>;

/** The report as sent: only allowed fields, lists cut (largest first) until it fits maxBytes. */
export function reportPayload(report: Report, policy: PayloadPolicy): Json {
  const allowed = new Set(policy.fields);
  const names = new Placeholders(new Set(policy.redact));
  const payload: Json = {
    kind: "vigil-report",
    level: report.levelName,
    period: report.period,
    scope: report.scope === "fleet" ? "fleet" : "one host",
    hosts: report.hosts,
    events: report.events.total,
    alerts: { total: report.alerts.total, bySeverity: report.alerts.bySeverity },
  };
  if (report.scope !== "fleet" && allowed.has("host.name") && report.hostName) {
    payload.host = names.value("host.name", report.hostName);
  }
  if (allowed.has("event.category") && allowed.has("event.action")) {
    payload.eventTypes = report.events.byType.entries.map((entry) => ({
      type: entry.key,
      count: entry.count,
    }));
  }
  if (allowed.has("process.command_line")) {
    payload.commands = report.commands.entries.map((entry) => ({
      command: names.value("process.command_line", entry.key),
      count: entry.count,
    }));
  }
  if (allowed.has("user.name")) {
    payload.users = report.users.entries.map((entry) => ({
      user: names.value("user.name", entry.key),
      count: entry.count,
    }));
  }
  if (allowed.has("process.executable") || allowed.has("process.hash.sha256")) {
    payload.newExecutables = report.newExecutables.items.map((item) => ({
      ...(allowed.has("process.executable") && item.executable
        ? { executable: names.value("process.executable", item.executable) }
        : {}),
      ...(allowed.has("process.hash.sha256")
        ? { sha256: names.value("process.hash.sha256", item.sha256) }
        : {}),
    }));
  }
  if (allowed.has("source.port")) {
    payload.newListeningPorts = report.newListeningPorts.items.map((item) => ({
      port: names.value("source.port", item.port),
      ...(allowed.has("process.executable") && item.executable
        ? { executable: names.value("process.executable", item.executable) }
        : {}),
    }));
  }
  if (allowed.has("destination.ip") || allowed.has("destination.port")) {
    payload.newDestinations = report.newDestinations.items.map((item) => ({
      ...(allowed.has("destination.ip") ? { ip: names.value("destination.ip", item.ip) } : {}),
      ...(allowed.has("destination.port") && item.port !== null
        ? { port: names.value("destination.port", item.port) }
        : {}),
    }));
  }
  if (allowed.has("rule.id") || allowed.has("rule.name")) {
    payload.alertRules = report.alerts.byRule.map((rule) => ({
      ...(allowed.has("rule.id") ? { id: names.value("rule.id", rule.ruleId) } : {}),
      ...(allowed.has("rule.name") ? { name: names.value("rule.name", rule.ruleName) } : {}),
      level: rule.level,
      count: rule.count,
    }));
  }
  if (report.trend) {
    payload.trend = {
      previousPeriod: report.trend.previousLabel,
      events: report.trend.events,
      alerts: report.trend.alerts,
      newExecutables: report.trend.newExecutables,
    };
  }
  return fit(payload, policy.maxBytes);
}

/** ECS paths of an alert document that may be sent, in TRIAGE_FIELDS terms. */
export function alertPayload(alert: EcsDocument, policy: PayloadPolicy): Json {
  const names = new Placeholders(new Set(policy.redact));
  const payload: Json = { kind: "vigil-alert", "@timestamp": alert["@timestamp"] };
  for (const field of policy.fields) {
    const value = valueAt(alert, field);
    if (value === undefined || value === null || value === "") continue;
    payload[field] =
      typeof value === "string" || typeof value === "number"
        ? names.value(field, value)
        : Array.isArray(value)
          ? value.map((item) => (typeof item === "string" ? names.value(field, item) : item))
          : undefined;
  }
  return fit(payload, policy.maxBytes);
}

function valueAt(document: EcsDocument, path: string): unknown {
  let current: unknown = document;
  for (const part of path.split(".")) {
    if (typeof current !== "object" || current === null) return undefined;
    current = (current as Json)[part];
  }
  return current;
}

/** Cuts the longest list in half until the JSON fits; says so in `truncated`. */
function fit(payload: Json, maxBytes: number): Json {
  let size = Buffer.byteLength(JSON.stringify(payload));
  while (size > maxBytes) {
    const lists = Object.entries(payload).filter(
      (entry): entry is [string, unknown[]] => Array.isArray(entry[1]) && entry[1].length > 0,
    );
    if (lists.length === 0) break;
    const [key, longest] = lists.sort((a, b) => b[1].length - a[1].length)[0] as [string, unknown[]];
    payload[key] = longest.slice(0, Math.floor(longest.length / 2));
    payload.truncated = true;
    size = Buffer.byteLength(JSON.stringify(payload));
  }
  return payload;
}
