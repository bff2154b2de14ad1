import type { CanonicalEvent, EcsProcessParent, Event } from "@vigil/proto";
import type { AgentIdentity } from "./agent-identity";
import { normalizeEvent } from "./normalize-event";
import { ParentTable } from "./parent-table";

export interface NormalizedBatch {
  events: CanonicalEvent[];
  /** The events' distinct parents, for BusEventBatch.parents (process.parent_index points here). */
  parents: EcsProcessParent[];
  /** Events dropped for having no payload (nothing to say). */
  withoutPayload: number;
}

/** One agent batch → the canonical events and shared parents of its bus batch. */
export function normalizeBatch(
  identity: AgentIdentity,
  sequence: number,
  events: Event[],
  receivedUs: number,
): NormalizedBatch {
  const canonical: CanonicalEvent[] = [];
  const parents = new ParentTable(identity.agentId);
  for (let index = 0; index < events.length; index++) {
    const event = normalizeEvent(identity, events[index], { sequence, index, receivedUs }, parents);
    if (event) canonical.push(event);
  }
  return { events: canonical, parents: parents.parents, withoutPayload: events.length - canonical.length };
}
