import type { AlertLevel } from "../alerts/types";
import type { StreamSpec } from "../bus/types";

// Subject and stream names are part of the contract between server, hub and
// notifiers; they live here so no program spells them on its own.

export const EVENTS_STREAM = "VIGIL_EVENTS";
export const ALERTS_STREAM = "VIGIL_ALERTS";
export const DEAD_LETTER_STREAM = "VIGIL_DEADLETTER";
export const AUDIT_STREAM = "VIGIL_AUDIT";
export const HUB_DURABLE = "vigil-hub";

/** Agent ids become subject tokens, so they are restricted to this alphabet. */
export const AGENT_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

export function eventsSubject(agentId: string): string {
  return `vigil.events.${agentId}`;
}

export function alertsSubject(level: AlertLevel): string {
  return `vigil.alerts.${level}`;
}

/** Audit actions are dotted verbs ("rule.create"); each part becomes a subject token. */
export const AUDIT_ACTION_PATTERN = /^[a-z0-9-]{1,40}(\.[a-z0-9-]{1,40}){0,3}$/;

export function auditSubject(action: string): string {
  return `vigil.audit.${action}`;
}

/** The bus message id of a batch: a resent batch is dropped by the bus. */
export function batchMessageId(agentId: string, sequence: number): string {
  return `${agentId}:${sequence}`;
}

export function defaultStreams(): StreamSpec[] {
  return [
    {
      name: EVENTS_STREAM,
      subjects: ["vigil.events.>"],
      duplicateWindowMs: 10 * 60_000,
      maxAgeMs: 7 * 24 * 3600_000,
      maxBytes: 8 * 1024 ** 3,
    },
    {
      name: ALERTS_STREAM,
      subjects: ["vigil.alerts.>"],
      duplicateWindowMs: 10 * 60_000,
      maxAgeMs: 30 * 24 * 3600_000,
      maxBytes: 1024 ** 3,
    },
    {
      // What a sink refused for good, kept for an operator to inspect and replay.
      name: DEAD_LETTER_STREAM,
      subjects: ["vigil.deadletter.>"],
      duplicateWindowMs: 10 * 60_000,
      maxAgeMs: 30 * 24 * 3600_000,
      maxBytes: 256 * 1024 ** 2,
    },
    {
      // Who changed what (API tokens, rules, agent config, tasks, enrolment): kept for a year.
      name: AUDIT_STREAM,
      subjects: ["vigil.audit.>"],
      duplicateWindowMs: 10 * 60_000,
      maxAgeMs: 366 * 24 * 3600_000,
      maxBytes: 1024 ** 3,
    },
  ];
}
