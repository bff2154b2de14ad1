import { createHash } from "node:crypto";
import { type Alert, type AlertRule, type EcsDocument, SEVERITY_BY_LEVEL } from "@vigil/common";
import type { OutputTemplate, Suppression } from "../sigma/types";

/** What an alert needs from a matched rule; CompiledRule satisfies it. */
export interface AlertingRule extends AlertRule {
  techniques: Array<{ id: string; name?: string }>;
  tactics: Array<{ id: string; name: string }>;
  /** `vigil.output`: the alert message instead of the generic one. */
  output?: OutputTemplate;
  /** `vigil.suppress`: one alert per key per window (the dedup stage reads vigil.alert.suppression). */
  suppress?: Suppression;
}

/** What fired a correlation rule; the correlation engine builds it. */
export interface CorrelationTrigger {
  /**
   * Names this firing and nothing else (e.g. group key + window start): the
   * same firing seen again (redelivery, a second hub) gets the same alert id.
   */
  firingId: string;
  /**
   * The contributing events, oldest first: their documents when the engine has
   * them (the last one gives the alert its host/process context), else their
   * event ids. At most MAX_CORRELATION_EVENTS are kept in the alert.
   */
  events: ReadonlyArray<EcsDocument | string>;
  /** How many events contributed, when more than `events` holds. */
  count?: number;
}

/** Contributing events copied into a correlation alert (their ids are all kept, up to 1000). */
export const MAX_CORRELATION_EVENTS = 10;
const MAX_CORRELATION_EVENT_IDS = 1000;

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

/**
 * The ECS alert for one event matching `rule`. Its id depends on the rule and
 * the event only, so evaluating the same event again yields the same alert.
 */
export function buildAlert(rule: AlertingRule, event: EcsDocument, createdAt: Date): Alert {
  const sourceEvent = (event.event ?? {}) as EcsDocument;
  const eventId = String(sourceEvent.id ?? "");
  return assembleAlert(rule, event, alertId(rule.id, eventId), eventId, createdAt);
}

/**
 * The ECS alert for a correlation rule's firing: context (host, process, ...)
 * from the latest contributing document, the contributing events under
 * vigil.correlation, and an id from the rule and trigger.firingId.
 */
export function buildCorrelationAlert(
  rule: AlertingRule,
  trigger: CorrelationTrigger,
  createdAt: Date,
): Alert {
  const documents = trigger.events.filter((event): event is EcsDocument => typeof event !== "string");
  const ids = trigger.events.map((event) =>
    typeof event === "string" ? event : String(((event.event ?? {}) as EcsDocument).id ?? ""),
  );
  const latest = documents.at(-1) ?? { "@timestamp": createdAt.toISOString() };
  const alert = assembleAlert(
    rule,
    latest,
    alertId(rule.id, `correlation:${trigger.firingId}`),
    ids.at(-1) ?? "",
    createdAt,
  );
  const vigil = alert.document.vigil as EcsDocument;
  vigil.correlation = {
    firing_id: trigger.firingId,
    count: trigger.count ?? trigger.events.length,
    event_ids: ids.slice(-MAX_CORRELATION_EVENT_IDS),
    events: documents.slice(-MAX_CORRELATION_EVENTS),
  };
  return alert;
}

function assembleAlert(
  rule: AlertingRule,
  event: EcsDocument,
  id: string,
  eventId: string,
  createdAt: Date,
): Alert {
  const sourceEvent = (event.event ?? {}) as EcsDocument;
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
    message: rule.output ? rule.output.render(event).slice(0, 1000) : alertMessage(rule, event),
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
  const alertState: EcsDocument = { level: rule.level };
  if (rule.suppress) {
    alertState.suppression = {
      by: rule.suppress.by,
      key: rule.suppress.key(event),
      window: rule.suppress.window,
      window_ms: rule.suppress.windowMs,
    };
  }
  document.vigil = {
    ...((event.vigil as EcsDocument | undefined) ?? {}),
    alert: alertState,
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
