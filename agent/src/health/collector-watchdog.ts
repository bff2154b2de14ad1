import type { Logger } from "@vigil/common";
import type { CollectorHealth } from "@vigil/proto";
import type { Collector, EventSink } from "../collectors/types";
import { backoffDelayMs } from "../transport/backoff";

export type CollectorState = "running" | "stalled" | "restarting" | "failed" | "stopped";

export interface WatchdogOptions {
  collectors: Collector[];
  /** What a restarted collector emits into (the agent's sink). */
  sink: EventSink;
  intervalMs: number;
  backoffInitialMs: number;
  backoffMaxMs: number;
  /** Consecutive failed restarts before a collector is given up ("failed"). */
  maxRestarts: number;
  /** A collector that ran this long since its restart starts its backoff over. */
  stableMs: number;
  logger: Logger;
  /** Told of every stall and failure (the agent's lastError). */
  onError?: (message: string) => void;
}

interface Watched {
  collector: Collector;
  state: CollectorState;
  lastError: string;
  restarts: number;
  lastRestartUs: number;
  /** Consecutive stalls without a stable run in between. */
  failures: number;
  runningSinceMs: number;
  nextAttemptMs: number;
}

const MAX_ERROR_CHARS = 500;

/**
 * Restarts collectors that stopped working. Every intervalMs it asks each
 * running collector for health(); one that is not ok (its read loop threw,
 * its poll timer died, it stopped making progress — each collector says what
 * that means for it) is "stalled": after a jittered exponential backoff it is
 * stopped and started again ("restarting", then "running"). A collector that
 * stalls maxRestarts times in a row without a stable run is "failed" and left
 * stopped. States, restarts and the last error go into heartbeats.
 */
export class CollectorWatchdog {
  private readonly watched: Watched[];
  private timer: NodeJS.Timeout | undefined;
  private checking: Promise<void> | undefined;
  private stopped = false;

  constructor(private readonly options: WatchdogOptions) {
    const now = Date.now();
    this.watched = options.collectors.map((collector) => ({
      collector,
      state: "running",
      lastError: "",
      restarts: 0,
      lastRestartUs: 0,
      failures: 0,
      runningSinceMs: now,
      nextAttemptMs: 0,
    }));
  }

  start(): void {
    if (this.timer || this.stopped) return;
    this.timer = setInterval(() => {
      this.checking ??= this.check().finally(() => {
        this.checking = undefined;
      });
    }, this.options.intervalMs);
    this.timer.unref();
  }

  /** Stops watching (waits for a restart in progress); the agent stops the collectors. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.checking;
    for (const entry of this.watched) entry.state = "stopped";
  }

  /** Collectors the watchdog has given up on are not stopped again by the agent. */
  isRunning(collector: Collector): boolean {
    const entry = this.watched.find((candidate) => candidate.collector === collector);
    return entry === undefined || entry.state !== "failed";
  }

  report(): CollectorHealth[] {
    return this.watched.map((entry) => ({
      name: entry.collector.name,
      state: entry.state,
      lastError: entry.lastError,
      restarts: entry.restarts,
      lastRestartUs: entry.lastRestartUs,
    }));
  }

  totalRestarts(): number {
    return this.watched.reduce((sum, entry) => sum + entry.restarts, 0);
  }

  /** One pass; public for tests. */
  async check(): Promise<void> {
    const now = Date.now();
    for (const entry of this.watched) {
      if (this.stopped) return;
      if (entry.state === "running") {
        const health = safeHealth(entry.collector);
        if (health.ok) continue;
        this.stalled(entry, health.error, now);
        continue;
      }
      if (entry.state === "stalled" && now >= entry.nextAttemptMs) await this.restart(entry);
    }
  }

  private stalled(entry: Watched, error: string, now: number): void {
    const { logger, stableMs, maxRestarts, backoffInitialMs, backoffMaxMs } = this.options;
    if (now - entry.runningSinceMs >= stableMs) entry.failures = 0;
    entry.failures++;
    entry.lastError = error.length > MAX_ERROR_CHARS ? `${error.slice(0, MAX_ERROR_CHARS)}…` : error;
    const name = entry.collector.name;
    this.options.onError?.(`collector ${name}: ${entry.lastError}`);
    if (entry.failures > maxRestarts) {
      entry.state = "failed";
      logger.error(
        { collector: name, error: entry.lastError, restarts: entry.restarts },
        "collector keeps failing: watchdog gave up on it",
      );
      void entry.collector.stop().catch(() => undefined);
      return;
    }
    entry.state = "stalled";
    const delay = backoffDelayMs(entry.failures - 1, backoffInitialMs, backoffMaxMs);
    entry.nextAttemptMs = now + delay;
    logger.warn(
      { collector: name, error: entry.lastError, attempt: entry.failures, restartInMs: delay },
      "collector stalled: restarting it",
    );
  }

  private async restart(entry: Watched): Promise<void> {
    const { collector } = entry;
    entry.state = "restarting";
    try {
      await collector.stop();
    } catch (error) {
      this.options.logger.warn(
        { collector: collector.name, err: error },
        "stalled collector did not stop cleanly",
      );
    }
    if (this.stopped) return;
    entry.restarts++;
    entry.lastRestartUs = Date.now() * 1000;
    try {
      await collector.start(this.options.sink);
    } catch (error) {
      this.stalled(entry, `restart failed: ${(error as Error).message}`, Date.now());
      return;
    }
    entry.state = "running";
    entry.runningSinceMs = Date.now();
    this.options.logger.info({ collector: collector.name, restarts: entry.restarts }, "collector restarted");
  }
}

function safeHealth(collector: Collector): { ok: true } | { ok: false; error: string } {
  if (!collector.health) return { ok: true };
  try {
    return collector.health();
  } catch (error) {
    return { ok: false, error: `health check threw: ${(error as Error).message}` };
  }
}
