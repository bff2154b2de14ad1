import { closeSync, constants, openSync, readSync, statSync, writeSync } from "node:fs";
import { ErrorCodes, type Logger, VigilError } from "@vigil/common";
import type { Event } from "@vigil/proto";
import type { Collector, EventSink } from "../types";
import { VIGIL_DROPPED, VIGIL_MAX_RECORD, VIGIL_STATS } from "./event-table.gen";
import { type DriverRecord, DriverRecordDecoder } from "./record-decoder";
import { mapDriverRecord } from "./record-mapper";

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
}

/** Beyond this many live pids the set starts over (procfs then re-reports some: noise, not loss). */
const MAX_TRACKED_PIDS = 65_536;

/** Every read asks for this much: many records, and always more than the largest one. */
const READ_BUFFER_BYTES = 16 * VIGIL_MAX_RECORD;

/**
 * Reads vigil.ko's records from /dev/vigil. The device is opened once,
 * read-write and non-blocking: it is both the record stream and the control
 * channel (watched paths, stats requests), and the driver allows one opener.
 * Records are decoded with DriverRecordDecoder (which never throws and
 * resynchronises on garbage) and mapped onto the agent's typed events; kinds
 * without a typed message travel as KernelEvent.
 */
export class DriverCollector implements Collector {
  readonly name = "driver";
  private readonly devicePath: string;
  private readonly decoder = new DriverRecordDecoder();
  private readonly buffer = Buffer.alloc(READ_BUFFER_BYTES);
  private fd: number | undefined;
  private pollTimer: NodeJS.Timeout | undefined;
  private statsTimer: NodeJS.Timeout | undefined;
  private sink: EventSink | undefined;
  /** Processes the driver reported (exec/fork) and that have not exited; bounded. */
  private readonly livePids = new Set<number>();
  private readonly counters = {
    events: 0,
    kernelEvents: 0,
    ownEvents: 0,
    driverDropped: 0,
    driverRecords: 0,
    readErrors: 0,
  };

  constructor(private readonly options: DriverCollectorOptions) {
    this.devicePath = options.devicePath ?? DEFAULT_DRIVER_DEVICE;
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
    this.pollTimer = setInterval(() => this.drain(), this.options.pollIntervalMs ?? 10);
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
    return this.livePids.has(pid);
  }

  stats(): Record<string, number> {
    const decoder = this.decoder.counters;
    return { ...this.counters, decodeErrors: decoder.errors, decodeResyncs: decoder.resyncs };
  }

  private trackLiveness(event: Event): void {
    const pid = event.process?.pid ?? 0;
    switch (event.payload?.$case) {
      case "exec":
        if (this.livePids.size >= MAX_TRACKED_PIDS) this.livePids.clear();
        this.livePids.add(pid);
        return;
      case "fork":
        if (this.livePids.size >= MAX_TRACKED_PIDS) this.livePids.clear();
        this.livePids.add(event.payload.value.childPid);
        return;
      case "exit":
        this.livePids.delete(pid);
        return;
      default:
        return;
    }
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

  /** Reads until the device is empty; runs on a timer so no libuv thread ever blocks in the kernel. */
  private drain(): void {
    if (this.fd === undefined) return;
    for (;;) {
      let bytes: number;
      try {
        bytes = readSync(this.fd, this.buffer, 0, this.buffer.length, null);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "EAGAIN") {
          this.counters.readErrors++;
          this.options.logger.error({ err: error }, "reading the driver failed");
        }
        return;
      }
      if (bytes === 0) return;
      for (const record of this.decoder.push(this.buffer.subarray(0, bytes))) this.onRecord(record);
    }
  }

  private onRecord(record: DriverRecord): void {
    this.counters.driverRecords++;
    switch (record.header.type) {
      case VIGIL_DROPPED:
        this.counters.driverDropped = Number(record.fields.total ?? this.counters.driverDropped);
        this.options.logger.warn(
          { dropped: Number(record.fields.count ?? 0) },
          "driver ring buffer was full: records dropped",
        );
        return;
      case VIGIL_STATS:
        this.counters.driverDropped = Number(record.fields.dropped ?? this.counters.driverDropped);
        return;
    }
    // The agent's own work (reading the device, /proc) is not news.
    if (record.header.tgid === process.pid) {
      this.counters.ownEvents++;
      return;
    }
    const mapped = mapDriverRecord(record);
    let event: Event;
    if (mapped.kind === "event") {
      event = mapped.event;
    } else {
      const generic = mapped.event;
      const fields: Record<string, string> = {};
      for (const [key, value] of Object.entries(generic.fields)) {
        fields[key] =
          typeof value === "object" && !Array.isArray(value) ? `${value.ip}:${value.port}` : String(value);
      }
      event = {
        timestampUs: generic.timestampUs,
        collector: "driver",
        process: generic.process,
        payload: { $case: "kernel", value: { type: generic.type, category: generic.category, fields } },
      };
      this.counters.kernelEvents++;
    }
    this.trackLiveness(event);
    this.counters.events++;
    this.sink?.(event);
  }
}
