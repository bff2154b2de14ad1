// "Around this alert": the alert's process, its ancestry, and everything they
// and the process's descendants did within ±N minutes of the alert, read from
// whichever event store the API has (EventQueries).

import type { EcsDocument } from "../alerts/types";
import { ErrorCodes, VigilError } from "../errors";
import { objectAt, stringAt } from "./event-columns";
import { ProcessNotFoundError } from "./process-tree";
import type { AlertContext, EventQueries } from "./types";

export const DEFAULT_CONTEXT_MINUTES = 5;
export const MAX_CONTEXT_MINUTES = 24 * 60;

export interface AlertContextOptions {
  minutes?: number;
  eventsPerProcess?: number;
  maxProcesses?: number;
}

export async function alertContext(
  queries: EventQueries,
  alert: EcsDocument,
  options: AlertContextOptions = {},
): Promise<AlertContext> {
  const minutes = options.minutes ?? DEFAULT_CONTEXT_MINUTES;
  if (!Number.isFinite(minutes) || minutes <= 0 || minutes > MAX_CONTEXT_MINUTES) {
    throw new VigilError(
      ErrorCodes.EVENT_QUERY,
      `minutes: must be a number above 0 and at most ${MAX_CONTEXT_MINUTES}`,
    );
  }
  const timestamp = alert["@timestamp"];
  const atMs = typeof timestamp === "string" ? Date.parse(timestamp) : Number.NaN;
  if (!Number.isFinite(atMs)) {
    throw new VigilError(ErrorCodes.EVENT_QUERY, "alert: its @timestamp is missing or not an ISO time");
  }
  const spanMs = Math.round(minutes * 60_000);
  const fromMs = atMs - spanMs;
  const toMs = atMs + spanMs + 1;
  const hostId = stringAt(objectAt(alert, "host"), "id") ?? stringAt(objectAt(alert, "agent"), "id");
  const entityId = stringAt(objectAt(alert, "process"), "entity_id");
  if (hostId === null || entityId === null) return { alert, fromMs, toMs, tree: null };
  try {
    const tree = await queries.processTree({
      hostId,
      entityId,
      fromMs,
      toMs,
      eventsPerProcess: options.eventsPerProcess,
      maxProcesses: options.maxProcesses,
    });
    return { alert, fromMs, toMs, tree };
  } catch (error) {
    // The process's events may be excluded, sampled out or past retention: the alert still has a context.
    if (error instanceof ProcessNotFoundError) return { alert, fromMs, toMs, tree: null };
    throw error;
  }
}
