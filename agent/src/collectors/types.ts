import type { Event } from "@vigil/proto";

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
}
