import { createHash } from "node:crypto";
import { type Alert, type AlertRule, type EcsDocument, SEVERITY_BY_LEVEL } from "@vigil/common";

/** What an alert needs from a matched rule; CompiledRule satisfies it. */
export interface AlertingRule extends AlertRule {
  techniques: Array<{ id: string; name?: string }>;
  tactics: Array<{ id: string; name: string }>;
}

/** Fields copied from the event into the alert, so an analyst sees the context in one document. */
const CONTEXT_FIELDS = [
  "host",
  "agent",
  "process",
  "user",
  "file",
  "source",
  "destination",
  "network",
  "container",
] as const;

/** Same rule + same event → same id: a redelivered event cannot make a second alert. */
export function alertId(ruleId: string, eventId: string): string {
  return createHash("sha256").update(`${ruleId}\0${eventId}`).digest("base64url").slice(0, 27);
}

export function buildAlert(rule: AlertingRule, event: EcsDocument, createdAt: Date): Alert {
  const sourceEvent = (event.event ?? {}) as EcsDocument;
  const eventId = String(sourceEvent.id ?? "");
  const id = alertId(rule.id, eventId);
  const document: EcsDocument = {
    "@timestamp": event["@timestamp"],
    event: {
      kind: "alert",
      id,
      created: createdAt.toISOString(),
      category: sourceEvent.category,
      type: sourceEvent.type,
      action: sourceEvent.action,
      outcome: sourceEvent.outcome,
      severity: SEVERITY_BY_LEVEL[rule.level],
      module: "vigil",
      dataset: "vigil.alerts",
    },
    rule: {
      id: rule.id,
      name: rule.name,
      description: rule.description,
      author: rule.author ? [rule.author] : [],
      reference: rule.references,
      ruleset: "vigil",
      version: rule.version,
    },
    message: alertMessage(rule, event),
    tags: rule.tags,
  };
  if (rule.techniques.length > 0 || rule.tactics.length > 0) {
    document.threat = {
      framework: "MITRE ATT&CK",
      technique: rule.techniques.map((technique) => ({
        id: technique.id,
        ...(technique.name ? { name: technique.name } : {}),
        reference: `https://attack.mitre.org/techniques/${technique.id.replace(".", "/")}/`,
      })),
      tactic: {
        id: rule.tactics.map((tactic) => tactic.id),
        name: rule.tactics.map((tactic) => tactic.name),
      },
    };
  }
  for (const field of CONTEXT_FIELDS) {
    if (event[field] !== undefined) document[field] = event[field];
  }
  document.vigil = {
    ...((event.vigil as EcsDocument | undefined) ?? {}),
    alert: { level: rule.level },
    event_id: eventId,
  };
  const timestampUs = Date.parse(String(event["@timestamp"])) * 1000 || createdAt.getTime() * 1000;
  return { id, timestampUs, level: rule.level, rule: toAlertRule(rule), document };
}

function toAlertRule(rule: AlertingRule): AlertRule {
  return {
    id: rule.id,
    name: rule.name,
    description: rule.description,
    level: rule.level,
    author: rule.author,
    references: rule.references,
    tags: rule.tags,
    version: rule.version,
  };
}

/** One line an analyst can read in a list: what fired, on what, where. */
function alertMessage(rule: AlertingRule, event: EcsDocument): string {
  const process = (event.process ?? {}) as EcsDocument;
  const file = (event.file ?? {}) as EcsDocument;
  const destination = (event.destination ?? {}) as EcsDocument;
  const host = (event.host ?? {}) as EcsDocument;
  const subject =
    (file.path as string | undefined) ??
    (destination.ip ? `${destination.ip}:${destination.port ?? ""}` : undefined) ??
    (process.command_line as string | undefined) ??
    (process.executable as string | undefined) ??
    "";
  const actor = process.executable
    ? ` by ${process.executable}${process.pid ? ` (pid ${process.pid})` : ""}`
    : "";
  const where = host.name ? ` on ${host.name}` : "";
  return `${rule.name}: ${subject}${actor}${where}`.slice(0, 1000);
}
