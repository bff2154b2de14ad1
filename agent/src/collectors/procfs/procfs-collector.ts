import { readdirSync } from "node:fs";
import { ErrorCodes, type Logger, VigilError } from "@vigil/common";
import type { Event } from "@vigil/proto";
import { ProcessCache } from "../../context/process-cache";
import { integerOption } from "../option-checks";
import { readBootTimeUs, startTimeUs } from "../proc/boot-time";
import { parseProcStat } from "../proc/proc-stat";
import { readText } from "../proc/process-reader";
import { UserNames } from "../proc/user-names";
import type { Collector, CollectorHealthReport, EventSink } from "../types";
import { DEFAULT_PROCFS_INTERVAL_MS, type ProcfsCollectorOptions } from "./types";

const KTHREADD_PID = 2;

/**
 * Periodic /proc scan: the first scan inventories every process, later scans
 * report processes that appeared since and that no other collector reported.
 * Also the only process source when tracefs is unavailable.
 */
export class ProcfsCollector implements Collector {
  readonly name = "procfs";
  private readonly logger: Logger;
  private readonly intervalMs: number;
  private readonly procRoot: string;
  private readonly includeKernelThreads: boolean;
  private readonly knownPids: ((pid: number, startTimeUs: number) => boolean) | undefined;
  private readonly table: ProcessCache;
  private readonly bootTimeUs: number;
  /** pid -> start time of every process already reported (or known), pruned each scan. */
  private reported = new Map<number, number>();
  private sink: EventSink | undefined;
  private timer: NodeJS.Timeout | undefined;
  private failure: string | undefined;
  private lastScanAtMs = 0;
  private scans = 0;
  private readonly counters = { events: 0, scans: 0, scanErrors: 0, skippedKnown: 0, vanished: 0 };

  constructor(options: ProcfsCollectorOptions) {
    this.logger = options.logger;
    this.intervalMs = integerOption(
      "procfs.intervalMs",
      options.intervalMs,
      DEFAULT_PROCFS_INTERVAL_MS,
      100,
      3_600_000,
    );
    this.procRoot = options.procRoot ?? "/proc";
    this.includeKernelThreads = options.includeKernelThreads ?? false;
    this.knownPids = options.knownPids;
    let bootTimeUs: number;
    try {
      bootTimeUs = readBootTimeUs(this.procRoot);
    } catch (error) {
      throw new VigilError(
        ErrorCodes.COLLECTOR_UNAVAILABLE,
        `procfs collector: cannot read ${this.procRoot}/uptime; mount procfs at ${this.procRoot}`,
        { cause: error },
      );
    }
    this.bootTimeUs = bootTimeUs;
    this.table =
      options.processCache ??
      new ProcessCache({
        procRoot: this.procRoot,
        bootTimeUs,
        maxArgs: integerOption("procfs.maxArgs", options.maxArgs, 256, 1, 1 << 16),
        maxEntries: 4096,
        userNames: new UserNames(options.passwdPath),
      });
  }

  /** The watchdog's view: a scan that threw kills the poll timer; no scan for 3 intervals is a stall. */
  health(): CollectorHealthReport {
    if (this.failure !== undefined) return { ok: false, error: this.failure };
    const sinceMs = Date.now() - this.lastScanAtMs;
    if (this.sink !== undefined && sinceMs > 3 * this.intervalMs + 1000) {
      return { ok: false, error: `no /proc scan for ${sinceMs} ms (interval ${this.intervalMs} ms)` };
    }
    return { ok: true };
  }

  async start(sink: EventSink): Promise<void> {
    if (this.sink !== undefined) return;
    this.failure = undefined;
    this.lastScanAtMs = Date.now();
    if (readText(`${this.procRoot}/self/stat`) === undefined) {
      throw new VigilError(
        ErrorCodes.COLLECTOR_UNAVAILABLE,
        `procfs collector: ${this.procRoot}/self/stat is unreadable; mount procfs at ${this.procRoot}`,
      );
    }
    this.sink = sink;
    this.scan();
    this.schedule();
  }

  async stop(): Promise<void> {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.sink = undefined;
  }

  stats(): Record<string, number> {
    return { ...this.counters, cachedProcesses: this.table.size };
  }

  /** One pass over /proc; public so the agent can force one (e.g. after the driver reported drops). */
  scan(): void {
    const sink = this.sink;
    if (sink === undefined) return;
    this.lastScanAtMs = Date.now();
    const inventory = this.scans === 0;
    this.scans++;
    this.counters.scans++;
    let names: string[];
    try {
      names = readdirSync(this.procRoot);
    } catch (error) {
      this.counters.scanErrors++;
      this.logger.warn({ err: error }, "procfs scan failed");
      return;
    }
    const seen = new Map<number, number>();
    const nowUs = Date.now() * 1000;
    for (const name of names) {
      const first = name.charCodeAt(0);
      if (first < 48 || first > 57) continue;
      const pid = Number(name);
      const statText = readText(`${this.procRoot}/${name}/stat`);
      const stat = statText === undefined ? undefined : parseProcStat(statText);
      if (stat === undefined) continue;
      if (!this.includeKernelThreads && (pid === KTHREADD_PID || stat.ppid === KTHREADD_PID)) continue;
      const started = startTimeUs(this.bootTimeUs, stat.startTicks);
      seen.set(pid, started);
      if (this.reported.get(pid) === started) continue;
      if (!inventory && this.knownPids?.(pid, started) === true) {
        this.counters.skippedKnown++;
        continue;
      }
      const snapshot = this.table.refresh(pid);
      if (snapshot === undefined || snapshot.exited) {
        this.counters.vanished++;
        continue;
      }
      const event: Event = {
        timestampUs: nowUs,
        collector: this.name,
        process: this.table.toProcess(snapshot),
        payload: { $case: "processSeen", value: {} },
      };
      this.counters.events++;
      sink(event);
    }
    // Gone since the last scan: kept for context.exitGraceMs, so late events still name them.
    for (const pid of this.reported.keys()) if (!seen.has(pid)) this.table.markExited(pid);
    this.reported = seen;
  }

  private schedule(): void {
    this.timer = setTimeout(() => {
      try {
        this.scan();
      } catch (error) {
        // The timer dies with the scan: the watchdog sees it in health() and restarts the collector.
        this.failure = `scan threw: ${(error as Error).message}`;
        this.timer = undefined;
        this.logger.error({ err: error }, "procfs scan threw; poll timer stopped");
        return;
      }
      if (this.sink !== undefined) this.schedule();
    }, this.intervalMs);
    this.timer.unref();
  }
}
