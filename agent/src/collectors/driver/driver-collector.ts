import { closeSync, constants, openSync, readSync, statSync, writeSync } from "node:fs";
import { type AgentPolicy, ErrorCodes, type Logger, VigilError } from "@vigil/common";
import type { Event } from "@vigil/proto";
import { ProcessCache } from "../../context/process-cache";
import { readBootTimeUs } from "../proc/boot-time";
import { UserNames } from "../proc/user-names";
import type { Collector, CollectorHealthReport, EventSink, PolicyResult } from "../types";
import { buildDriverFilterWrite, partitionAllowExecutables } from "./driver-filters";
import { DriverRecordHandler } from "./driver-record-handler";
import { VIGIL_MAX_RECORD } from "./event-table.gen";

export const DEFAULT_DRIVER_DEVICE = "/dev/vigil";

/** Paths whose writes, creations, renames, unlinks and chmods the driver reports by default. */
export const DEFAULT_WATCHED_PREFIXES = [
  "/etc/",
  "/root/",
  "/home/",
  "/var/spool/cron/",
  "/usr/bin/",
  "/usr/sbin/",
  "/usr/lib/",
  "/lib/",
  "/boot/",
  "/tmp/",
  "/dev/shm/",
];

export interface DriverCollectorOptions {
  logger: Logger;
  devicePath?: string;
  /** How often the device is drained (non-blocking reads). */
  pollIntervalMs?: number;
  watchedPrefixes?: string[];
  /** How often the driver is asked for its counters (a STATS record). */
  statsIntervalMs?: number;
  /** The agent's shared process cache (start-agent.ts); default: one of its own, reading /proc on a miss. */
  processCache?: ProcessCache;
}

/** argv entries kept for a process the stream did not introduce (read from /proc). */
const MAX_PROC_ARGS = 256;

/** Every read asks for this much: many records, and always more than the largest one. */
const READ_BUFFER_BYTES = 16 * VIGIL_MAX_RECORD;

/**
 * Reads vigil.ko's records from /dev/vigil. The device is opened once,
 * read-write and non-blocking: it is both the record stream and the control
 * channel (watched paths, stats requests), and the driver allows one opener.
 * Records are decoded, mapped and given their process context by
 * DriverRecordHandler (shared with DriverReplayCollector, which reads captures);
 * processes started before the agent are looked up in /proc.
 */
export class DriverCollector implements Collector {
  readonly name = "driver";
  private readonly devicePath: string;
  private readonly handler: DriverRecordHandler;
  private readonly buffer = Buffer.alloc(READ_BUFFER_BYTES);
  private fd: number | undefined;
  private pollTimer: NodeJS.Timeout | undefined;
  private failure: string | undefined;
  private consecutiveReadErrors = 0;
  private statsTimer: NodeJS.Timeout | undefined;
  private sink: EventSink | undefined;
  private readonly counters = { readErrors: 0 };
  /** applyPolicy: writes accepted / refused, allow-listed paths not on this host (current). */
  private readonly filterCounters = {
    filterUpdatesApplied: 0,
    filterUpdatesRefused: 0,
    allowExecutablesMissing: 0,
  };
  /** The last filter write the driver accepted. */
  private appliedFilterWrite: string | undefined;

  constructor(private readonly options: DriverCollectorOptions) {
    this.devicePath = options.devicePath ?? DEFAULT_DRIVER_DEVICE;
    this.handler = new DriverRecordHandler({
      logger: options.logger,
      ownPid: process.pid,
      processCache: options.processCache ?? ownProcessCache(),
    });
  }

  /** Throws VIGIL_ERR_COLLECTOR_UNAVAILABLE when the module is not loaded here. */
  probe(): void {
    try {
      statSync(this.devicePath);
    } catch {
      throw new VigilError(
        ErrorCodes.COLLECTOR_UNAVAILABLE,
        `${this.devicePath} not found: the vigil.ko kernel module is not loaded (see driver/README.md)`,
      );
    }
  }

  async start(sink: EventSink): Promise<void> {
    this.probe();
    try {
      this.fd = openSync(this.devicePath, constants.O_RDWR | constants.O_NONBLOCK);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      const why = code === "EBUSY" ? "another process is already reading it" : (error as Error).message;
      throw new VigilError(ErrorCodes.COLLECTOR_UNAVAILABLE, `cannot open ${this.devicePath}: ${why}`, {
        cause: error,
      });
    }
    this.sink = sink;
    const prefixes = this.options.watchedPrefixes ?? DEFAULT_WATCHED_PREFIXES;
    this.command(["clear-watch", ...prefixes.map((prefix) => `watch ${prefix}`), "stats"]);
    this.failure = undefined;
    this.consecutiveReadErrors = 0;
    this.pollTimer = setInterval(() => this.poll(), this.options.pollIntervalMs ?? 10);
    this.statsTimer = setInterval(() => this.command(["stats"]), this.options.statsIntervalMs ?? 10_000);
  }

  async stop(): Promise<void> {
    if (this.pollTimer) clearInterval(this.pollTimer);
    if (this.statsTimer) clearInterval(this.statsTimer);
    this.pollTimer = undefined;
    this.statsTimer = undefined;
    if (this.fd !== undefined) {
      this.drain();
      closeSync(this.fd);
      this.fd = undefined;
    }
  }

  /** True when the driver already reported this process (procfs then stays quiet about it). */
  knowsPid(pid: number): boolean {
    return this.handler.knowsPid(pid);
  }

  stats(): Record<string, number> {
    return { ...this.handler.stats(), ...this.counters, ...this.filterCounters };
  }

  /**
   * Sets the driver's filters to the policy's driver part, in one
   * all-or-nothing write (driver-filters.ts). An absent list means the
   * default: the configured watched prefixes, no allow-list, every hook on.
   * Allow-listed paths that are no regular file on this host are left out
   * (the driver would refuse the whole write) and counted. When the filters
   * are invalid or the driver refuses them, its previous filters stay.
   */
  applyPolicy(policy: AgentPolicy): PolicyResult {
    if (this.fd === undefined) return { ok: false, error: `${this.devicePath} is not open` };
    const { logger } = this.options;
    const { present, missing } = partitionAllowExecutables(policy.driver.allowExecutables ?? []);
    this.filterCounters.allowExecutablesMissing = missing.length;
    if (missing.length > 0) {
      logger.warn({ missing: missing.slice(0, 20) }, "allow-listed executables not on this host: left out");
    }
    const watchedPrefixes =
      policy.driver.watchedPrefixes ?? this.options.watchedPrefixes ?? DEFAULT_WATCHED_PREFIXES;
    const disabledHooks = policy.driver.disabledHooks ?? [];
    let text: string;
    try {
      text = buildDriverFilterWrite({ watchedPrefixes, allowExecutables: present, disabledHooks });
    } catch (error) {
      this.filterCounters.filterUpdatesRefused++;
      return { ok: false, error: (error as Error).message };
    }
    if (text === this.appliedFilterWrite) return { ok: true, changed: false };
    try {
      const written = writeSync(this.fd, text);
      if (written !== Buffer.byteLength(text)) throw new Error(`short write: ${written} bytes`);
    } catch (error) {
      this.filterCounters.filterUpdatesRefused++;
      const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
      logger.error({ err: error }, "driver refused the filter commands; its previous filters stay");
      return { ok: false, error: `the driver refused the filter commands (${reason})` };
    }
    this.appliedFilterWrite = text;
    this.filterCounters.filterUpdatesApplied++;
    logger.info(
      { watchedPrefixes: watchedPrefixes.length, allowListed: present.length, disabledHooks },
      "driver filters set",
    );
    return { ok: true, changed: true };
  }

  /** Writes control commands; the driver applies a write all-or-nothing. */
  private command(lines: string[]): void {
    if (this.fd === undefined) return;
    try {
      writeSync(this.fd, `${lines.join("\n")}\n`);
    } catch (error) {
      this.options.logger.error({ err: error, commands: lines }, "driver refused control commands");
    }
  }

  /** The watchdog's view: the poll threw (its timer is stopped), or reads keep failing. */
  health(): CollectorHealthReport {
    if (this.failure !== undefined) return { ok: false, error: this.failure };
    if (this.consecutiveReadErrors >= 3) {
      return {
        ok: false,
        error: `${this.consecutiveReadErrors} reads of ${this.devicePath} failed in a row`,
      };
    }
    return { ok: true };
  }

  private poll(): void {
    try {
      this.drain();
    } catch (error) {
      this.failure = `read loop threw: ${(error as Error).message}`;
      if (this.pollTimer) clearInterval(this.pollTimer);
      this.pollTimer = undefined;
      this.options.logger.error({ err: error }, "driver read loop threw; polling stopped");
    }
  }

  /** Reads until the device is empty; runs on a timer so no libuv thread ever blocks in the kernel. */
  private drain(): void {
    if (this.fd === undefined) return;
    const emit = (event: Event) => this.sink?.(event);
    for (;;) {
      let bytes: number;
      try {
        bytes = readSync(this.fd, this.buffer, 0, this.buffer.length, null);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "EAGAIN") {
          this.counters.readErrors++;
          this.consecutiveReadErrors++;
          this.options.logger.error({ err: error }, "reading the driver failed");
        }
        this.handler.flush(emit);
        return;
      }
      this.consecutiveReadErrors = 0;
      if (bytes === 0) {
        this.handler.flush(emit);
        return;
      }
      this.handler.push(this.buffer.subarray(0, bytes), emit);
    }
  }
}

/** Processes started before the agent (or missed) are read from /proc. */
function ownProcessCache(): ProcessCache {
  let bootTimeUs = 0;
  try {
    bootTimeUs = readBootTimeUs();
  } catch {
    // No /proc/uptime: start times of /proc reads stay boot-relative.
  }
  return new ProcessCache({
    procRoot: "/proc",
    bootTimeUs,
    maxArgs: MAX_PROC_ARGS,
    userNames: new UserNames(),
  });
}
