import type { AgentPolicy } from "@vigil/common";
import type { Event } from "@vigil/proto";

/** What a collector did with a policy: refused means its previous filters are still in force. */
export type PolicyResult = { ok: true; changed: boolean } | { ok: false; error: string };

/** A collector's own view of whether it is still working (the watchdog restarts it when not). */
export type CollectorHealthReport = { ok: true } | { ok: false; error: string };

/** Receives every event a collector produces, in the order it saw them. */
export type EventSink = (event: Event) => void;

export interface Collector {
  /** "driver" | "ftrace" | "procfs" | "replay" — also Event.collector. */
  readonly name: string;
  /** Resolves once the collector is producing; rejects with VIGIL_ERR_COLLECTOR_UNAVAILABLE
   *  when it cannot run here (the message says why). */
  start(sink: EventSink): Promise<void>;
  /** Stops and releases kernel resources (tracefs instance, probes). Idempotent. */
  stop(): Promise<void>;
  /** Counters for heartbeats and /metrics: events, parse errors, drops by reason. */
  stats(): Record<string, number>;
  /** Applies the server-pushed policy (the parts this collector enforces, the rest ignored);
   *  collectors without it ignore policy. Called only after start() resolved. Never throws. */
  applyPolicy?(policy: AgentPolicy): PolicyResult;
  /** Not ok when its read loop or poll timer died, or it has made no progress when it should
   *  have: the watchdog then stops and restarts it (with backoff). Never throws. */
  health?(): CollectorHealthReport;
}
