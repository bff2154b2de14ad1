import type { Logger } from "@vigil/common";
import type { Event, GovernorStatus } from "@vigil/proto";
import { eventKind, isLowPriority } from "../spool/event-priority";

/** 0 means "no limit". */
export interface ResourceLimits {
  /** CPU time of the agent process over the window, % of one core. */
  cpuPercent: number;
  rssBytes: number;
}

export interface ResourceSample {
  atMs: number;
  /** process.cpuUsage() user + system, µs. */
  cpuUs: number;
  rssBytes: number;
}

export interface GovernorOptions {
  limits: ResourceLimits;
  sampleIntervalMs: number;
  /** CPU % is averaged over this sliding window. */
  windowMs: number;
  /** Shedding starts at this fraction of a limit: before the limit is exceeded. */
  shedAtFraction: number;
  /** And stops once usage stayed below this fraction of every limit for restoreAfterMs. */
  restoreAtFraction: number;
  restoreAfterMs: number;
  logger: Logger;
  /** Default: this process (process.cpuUsage, process.memoryUsage.rss). */
  sample?: () => ResourceSample;
}

function processSample(): ResourceSample {
  const cpu = process.cpuUsage();
  return { atMs: performance.now(), cpuUs: cpu.user + cpu.system, rssBytes: process.memoryUsage.rss() };
}

/**
 * The agent's self-restraint. Samples its own CPU time and RSS, and while
 * either nears its limit (shedAtFraction) sheds the low-priority event kinds
 * (spool/event-priority.ts: fork, exit, process-seen, DNS) at the
 * collector → batcher boundary: admit() is one branch per event and never
 * blocks a collector. Shedding stops with hysteresis, once usage stayed under
 * restoreAtFraction of every limit for restoreAfterMs. Shed events are counted
 * by kind and reported in heartbeats.
 */
export class ResourceGovernor {
  private limits: ResourceLimits;
  private readonly samples: ResourceSample[] = [];
  private readonly sample: () => ResourceSample;
  private timer: NodeJS.Timeout | undefined;
  private shedding = false;
  private calmSinceMs: number | undefined;
  private windowCpuPercent = 0;
  private windowRssBytes = 0;
  private episodes = 0;
  private readonly shedByKind = new Map<string, number>();
  private shedTotal = 0;

  constructor(private readonly options: GovernorOptions) {
    this.limits = { ...options.limits };
    this.sample = options.sample ?? processSample;
  }

  start(): void {
    if (this.timer) return;
    this.samples.push(this.sample());
    this.timer = setInterval(() => this.tick(), this.options.sampleIntervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** New limits (server ConfigUpdate); take effect at the next sample. */
  setLimits(limits: ResourceLimits): void {
    this.limits = { ...limits };
  }

  currentLimits(): ResourceLimits {
    return { ...this.limits };
  }

  isShedding(): boolean {
    return this.shedding;
  }

  /** False: the event is shed (counted). Called for every collected event. */
  admit(event: Event): boolean {
    if (!this.shedding || !isLowPriority(event)) return true;
    const kind = eventKind(event);
    this.shedByKind.set(kind, (this.shedByKind.get(kind) ?? 0) + 1);
    this.shedTotal++;
    return false;
  }

  eventsShed(): number {
    return this.shedTotal;
  }

  /** One sample and decision; public for tests. */
  tick(): void {
    const now = this.sample();
    this.samples.push(now);
    while (this.samples.length > 2 && now.atMs - this.samples[0].atMs > this.options.windowMs) {
      this.samples.shift();
    }
    const first = this.samples[0];
    const elapsedMs = now.atMs - first.atMs;
    this.windowCpuPercent = elapsedMs > 0 ? ((now.cpuUs - first.cpuUs) / 1000 / elapsedMs) * 100 : 0;
    this.windowRssBytes = now.rssBytes;
    const { cpuPercent, rssBytes } = this.limits;
    const { shedAtFraction, restoreAtFraction, restoreAfterMs, logger } = this.options;
    const usage = { cpuPercent: round(this.windowCpuPercent), rssBytes: this.windowRssBytes };
    const near =
      (cpuPercent > 0 && this.windowCpuPercent >= cpuPercent * shedAtFraction) ||
      (rssBytes > 0 && this.windowRssBytes >= rssBytes * shedAtFraction);
    const calm =
      (cpuPercent <= 0 || this.windowCpuPercent < cpuPercent * restoreAtFraction) &&
      (rssBytes <= 0 || this.windowRssBytes < rssBytes * restoreAtFraction);
    if (!this.shedding) {
      if (!near) return;
      this.shedding = true;
      this.calmSinceMs = undefined;
      this.episodes++;
      logger.warn(
        { ...usage, limits: this.limits },
        "near the resource limits: shedding low-priority events",
      );
      return;
    }
    if (!calm) {
      this.calmSinceMs = undefined;
      return;
    }
    this.calmSinceMs ??= now.atMs;
    if (now.atMs - this.calmSinceMs < restoreAfterMs) return;
    this.shedding = false;
    this.calmSinceMs = undefined;
    logger.info(
      { ...usage, limits: this.limits, shedSoFar: Object.fromEntries(this.shedByKind) },
      "resource usage back under the limits: low-priority events restored",
    );
  }

  status(): GovernorStatus {
    return {
      shedding: this.shedding,
      windowCpuPercent: round(this.windowCpuPercent),
      windowRssBytes: this.windowRssBytes,
      cpuLimitPercent: this.limits.cpuPercent,
      rssLimitBytes: this.limits.rssBytes,
      shedByKind: Object.fromEntries(this.shedByKind),
      shedEpisodes: this.episodes,
    };
  }
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}
