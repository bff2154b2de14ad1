// Where level-1 reports come from: aggregations in the event and alert store
// (SQL in embedded mode, Elasticsearch aggregations in distributed mode).
// Implementations never read raw events into memory: they ask the store for
// grouped counts and first sightings only.

import type { HostCell } from "./merge-reports";
import type { Period } from "./periods";

/** Events and alerts the store holds for a period: a regenerated cell is due when it changes. */
export interface StoreFingerprint {
  events: number;
  alerts: number;
}

export interface CellSource {
  readonly name: string;
  /** One entry per host with events or alerts in the cell. */
  hostCells(cell: Period): Promise<HostCell[]>;
  fingerprint(cell: Period): Promise<StoreFingerprint>;
  /** The earliest event or alert time the store holds (ms); undefined when it holds none. */
  earliest(): Promise<number | undefined>;
  close(): Promise<void>;
}

/** An event type's key in reports: "<event.category>/<event.action>". */
export function eventTypeKey(category: string | null, action: string | null): string {
  return `${category ?? "-"}/${action ?? "-"}`;
}

/** Alerts without host.id are reported under this host. */
export const UNKNOWN_HOST = "unknown";
