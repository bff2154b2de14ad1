import { setTimeout as sleep } from "node:timers/promises";
import type { EcsDocument } from "@vigil/common";
import {
  type AlertFilters,
  API_PAGE,
  alertIdOf,
  alertTimeMs,
  chronological,
  fetchAlertPage,
  printAlerts,
  searchAlerts,
} from "./alerts";
import type { ApiOptions } from "./api-client";

// `vigil alerts --follow` through the API. Alerts are ordered by event time,
// and an alert can be stored well after its event (an agent's spool resent,
// an Elasticsearch outage), so a "newer than the last one seen" cursor would
// skip it. Instead every poll looks at a window reaching `lookbackMs` back:
// a cheap count first (total of the window against the alerts already seen
// in it), and only when it differs the whole window, printing the alerts not
// seen yet. Seen ids are kept for the window, so nothing prints twice; an
// alert stored more than `lookbackMs` after its event is only caught by
// --follow --nats (the stream is in arrival order).

export interface FollowOptions extends ApiOptions, AlertFilters {
  /** Alerts printed first, as `vigil alerts` would. */
  limit: number;
  pollMs: number;
  lookbackMs: number;
  /** Stops following (tests; Ctrl-C ends the process otherwise). */
  signal?: AbortSignal;
}

export const DEFAULT_POLL_MS = 2000;
export const DEFAULT_LOOKBACK_MS = 10 * 60_000;

/** Every alert at or after `sinceMs` matching the filters, newest first (all pages). */
async function windowAlerts(options: FollowOptions, sinceMs: number): Promise<EcsDocument[]> {
  const filters = {
    ...options,
    since: new Date(Math.max(sinceMs, since(options))).toISOString(),
    until: undefined,
  };
  const alerts: EcsDocument[] = [];
  let cursor: string | undefined;
  do {
    const page = await fetchAlertPage(options, filters, API_PAGE, cursor);
    alerts.push(...page.alerts);
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
  return alerts;
}

/** --since bounds the follow too. */
function since(options: FollowOptions): number {
  return options.since ? Date.parse(options.since) : 0;
}

export async function followAlertsApi(options: FollowOptions): Promise<void> {
  if (options.until) throw new Error("--until: cannot be combined with --follow");
  const seen = new Map<string, number>();
  const remember = (alert: EcsDocument) => seen.set(alertIdOf(alert), alertTimeMs(alert));

  // The window first, so that what arrives while the history prints is not lost.
  let windowStart = Date.now() - options.lookbackMs;
  const current = await windowAlerts(options, windowStart);
  for (const alert of current) remember(alert);
  let history = current.slice(0, options.limit);
  if (history.length < options.limit) {
    const before = new Date(windowStart).toISOString();
    const older =
      since(options) >= windowStart
        ? []
        : (await searchAlerts(options, { ...options, until: before }, options.limit - history.length)).alerts;
    history = [...history, ...older];
  }
  printAlerts(chronological(history), options.json, { header: true });
  let header = history.length === 0;

  while (!options.signal?.aborted) {
    try {
      await sleep(options.pollMs, undefined, { signal: options.signal });
    } catch {
      return; // aborted
    }
    windowStart = Date.now() - options.lookbackMs;
    for (const [id, ms] of seen) if (ms < windowStart) seen.delete(id);
    const floor = Math.max(windowStart, since(options));
    const probe = await fetchAlertPage(
      options,
      { ...options, since: new Date(floor).toISOString(), until: undefined },
      1,
    );
    let inWindow = 0;
    for (const ms of seen.values()) if (ms >= floor) inWindow++;
    if (probe.totalExact && probe.total === inWindow) continue;
    const fresh = (await windowAlerts(options, windowStart)).filter((alert) => !seen.has(alertIdOf(alert)));
    for (const alert of fresh) remember(alert);
    printAlerts(chronological(fresh), options.json, { header });
    if (fresh.length > 0) header = false;
  }
}
