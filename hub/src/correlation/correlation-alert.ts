// A correlation's alert: built by build-alert.ts's buildCorrelationAlert with
// the correlation as its rule, the contributing event ids and the event that
// fired the window last (it gives the alert its host and process context),
// plus what was correlated: type, group, window, and what was counted. The
// firing is named by the triggering event, which fires a correlation at most
// once, so the alert of a replayed fire (window-state.ts) is the same alert.

import type { Alert, EcsDocument } from "@vigil/common";
import { buildCorrelationAlert as buildAlert } from "../alerts/build-alert";
import type { CorrelationLink } from "./correlation-index";
import type { WindowFire } from "./window-state";

function describeTimespan(ms: number): string {
  for (const [unit, size] of [
    ["d", 86_400_000],
    ["h", 3_600_000],
    ["m", 60_000],
  ] as const) {
    if (ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms / 1000}s`;
}

function counted(link: CorrelationLink, count: number): string {
  switch (link.correlation.type) {
    case "event_count":
      return `${count} events`;
    case "value_count":
      return `${count} distinct ${link.correlation.field}`;
    case "temporal":
      return `${count} related rules`;
    case "temporal_ordered":
      return `${count} rules in order`;
    default: {
      const never: never = link.correlation.type;
      return String(never);
    }
  }
}

export function correlationAlert(
  link: CorrelationLink,
  fire: WindowFire,
  trigger: EcsDocument,
  group: Record<string, unknown>,
  createdAt: Date,
): Alert {
  const earlier = fire.ids.filter((id) => id !== fire.trigger);
  const alert = buildAlert(
    link.alerting,
    { firingId: fire.trigger, events: [...earlier, trigger], count: fire.events },
    createdAt,
  );
  const { correlation } = link;
  const timespan = describeTimespan(correlation.timespanMs);
  const groupText = Object.entries(group)
    .map(([field, value]) => `${field}=${value === null ? "-" : String(value)}`)
    .join(", ");
  alert.document.message =
    `${correlation.title}: ${counted(link, fire.count)} within ${timespan}${groupText ? ` for ${groupText}` : ""}`.slice(
      0,
      1000,
    );
  // build-alert's vigil.correlation (firing_id, count of events, event_ids, events) plus what was correlated.
  Object.assign((alert.document.vigil as EcsDocument).correlation as EcsDocument, {
    type: correlation.type,
    timespan,
    group,
    counted: fire.count,
    first: new Date(fire.firstMs).toISOString(),
    last: new Date(fire.lastMs).toISOString(),
    ...(fire.values ? { values: fire.values } : {}),
    rules: correlation.referenced.map((reference) => reference.id),
  });
  return alert;
}
