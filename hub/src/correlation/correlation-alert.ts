// A correlation's alert: built like any alert (build-alert.ts) from the event
// that fired the window, with the correlation as its rule, plus what was
// correlated: the group, the count, the window and the contributing event ids.
// The id comes from the correlation and the triggering event, so the alert of
// a replayed fire (window-state.ts) is the same alert.

import type { Alert, EcsDocument } from "@vigil/common";
import { buildAlert } from "../alerts/build-alert";
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

export function buildCorrelationAlert(
  link: CorrelationLink,
  fire: WindowFire,
  trigger: EcsDocument,
  group: Record<string, unknown>,
  createdAt: Date,
): Alert {
  const alert = buildAlert(link.alerting, trigger, createdAt);
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
  alert.document.vigil = {
    ...(alert.document.vigil as EcsDocument),
    correlation: {
      type: correlation.type,
      timespan,
      group,
      count: fire.count,
      first: new Date(fire.firstMs).toISOString(),
      last: new Date(fire.lastMs).toISOString(),
      event_ids: fire.ids,
      ...(fire.values ? { values: fire.values } : {}),
      rules: correlation.referenced.map((reference) => reference.id),
    },
  };
  return alert;
}
