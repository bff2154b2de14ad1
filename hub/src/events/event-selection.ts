// Which events the writer keeps: excluded actions never, sampled actions a
// share of them chosen by a hash of the event id, so a redelivered batch keeps
// exactly the same events (and two writers agree).

import { hash } from "node:crypto";
import type { EcsDocument } from "@vigil/common";

export interface EventSelectionConfig {
  exclude: readonly string[];
  sample: Readonly<Record<string, number>>;
}

export type SelectionOutcome = "kept" | "excluded" | "sampled-out";

export class EventSelection {
  private readonly excluded: ReadonlySet<string>;
  private readonly rates: ReadonlyMap<string, number>;

  constructor(config: EventSelectionConfig) {
    this.excluded = new Set(config.exclude);
    this.rates = new Map(Object.entries(config.sample));
  }

  /** Whether to keep an event of this action and id. */
  decide(action: string | undefined, eventId: string): SelectionOutcome {
    if (action === undefined) return "kept";
    if (this.excluded.has(action)) return "excluded";
    const rate = this.rates.get(action);
    if (rate === undefined || rate >= 1) return "kept";
    return unitHash(eventId) < rate ? "kept" : "sampled-out";
  }

  decideDocument(document: EcsDocument): SelectionOutcome {
    const event = document.event as { action?: unknown; id?: unknown } | undefined;
    const action = typeof event?.action === "string" ? event.action : undefined;
    return this.decide(action, typeof event?.id === "string" ? event.id : "");
  }
}

/** The event id mapped evenly onto [0, 1). */
export function unitHash(id: string): number {
  return hash("sha1", id, "buffer").readUInt32BE(0) / 0x1_0000_0000;
}
