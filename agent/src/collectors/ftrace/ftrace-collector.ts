import { existsSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import { ErrorCodes, type Logger, VigilError } from "@vigil/common";
import { ProcessCache } from "../../context/process-cache";
import { readBootTimeUs } from "../proc/boot-time";
import { UserNames } from "../proc/user-names";
import type { Collector, CollectorHealthReport, EventSink } from "../types";
import { readDynamicFunctionSymbols } from "./elf-symbols";
import { type PageHeaderFormat, parseEventFormat, parsePageHeaderFormat } from "./event-format";
import { locateLibc } from "./libc-locator";
import { tracepointPlan, uprobeDefinition, uprobePlan } from "./probe-plan";
import { RawPipeReader } from "./raw-pipe-reader";
import { compileDecoder, type DecoderSpec, type RecordDecoder } from "./record-decoder";
import { resolveFtraceOptions } from "./resolve-options";
import { RecordBatch } from "./ring-buffer-page";
import { TraceCorrelator } from "./trace-correlator";
import {
  locateTracefs,
  readControl,
  removeInstance,
  removeProbeGroup,
  removeStale,
  writeControl,
} from "./tracefs";
import type { FtraceCollectorOptions, ResolvedFtraceOptions } from "./types";

const MAX_PAGES_PER_CPU_PER_POLL = 256;
const EXIT_SIGNALS: NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP"];

/**
 * Process, file, network and credential events from a private tracefs
 * instance: syscall and sched tracepoints for what happened, uprobes on
 * glibc's wrappers for the user-memory strings (argv, paths, sockaddr) that
 * syscall tracepoints only show as pointers.
 */
export class FtraceCollector implements Collector {
  readonly name = "ftrace";
  private readonly logger: Logger;
  private readonly options: FtraceCollectorOptions;
  private readonly settings: ResolvedFtraceOptions;
  private readonly procRoot: string;
  private readonly instanceName = `vigil-${process.pid}`;
  private readonly probeGroup = `vigil_${process.pid}`;
  private root = "";
  private instanceDir = "";
  private decoders: (RecordDecoder | undefined)[] = [];
  private reader: RawPipeReader | undefined;
  private correlator: TraceCorrelator | undefined;
  private table: ProcessCache | undefined;
  private readonly batch = new RecordBatch();
  private timer: NodeJS.Timeout | undefined;
  private cleanupRegistered = false;
  /** Why polling stopped (the watchdog restarts the collector), or undefined. */
  private failure: string | undefined;
  private consecutiveReadErrors = 0;
  private readonly counters = {
    polls: 0,
    pages: 0,
    lostEvents: 0,
    lostEventsUncounted: 0,
    malformedPages: 0,
    unknownRecords: 0,
    readErrors: 0,
    handlerErrors: 0,
    probesPlaced: 0,
  };
  private readonly onProcessExit = (): void => this.releaseKernelResources();
  private readonly onSignal = (signal: NodeJS.Signals): void => {
    this.releaseKernelResources();
    // Only listener: re-raise so the default action (terminate) still happens.
    if (process.listenerCount(signal) === 1) {
      this.unregisterCleanup();
      process.kill(process.pid, signal);
    }
  };

  constructor(options: FtraceCollectorOptions) {
    this.options = options;
    this.settings = resolveFtraceOptions(options);
    this.logger = options.logger;
    this.procRoot = options.procRoot ?? "/proc";
  }

  /**
   * Checks, without changing anything but mounting tracefs, that start() can work here:
   * root, tracefs with instances, the required tracepoints. Rejects with
   * VIGIL_ERR_COLLECTOR_UNAVAILABLE saying what is missing.
   */
  async probe(): Promise<void> {
    const root = await this.requireTracefs();
    for (const spec of tracepointPlan()) {
      if (spec.optional || existsSync(`${root}/events/${spec.group}/${spec.event}/format`)) continue;
      throw unavailable(
        `tracepoint ${spec.group}/${spec.event} is missing (kernel needs CONFIG_FTRACE_SYSCALLS)`,
      );
    }
    if (!existsSync(`${root}/uprobe_events`)) {
      this.logger.warn(
        "no uprobe_events (CONFIG_UPROBE_EVENTS): ftrace events will lack argv, paths and addresses",
      );
    }
  }

  async start(sink: EventSink): Promise<void> {
    if (this.timer !== undefined) return;
    const root = await this.requireTracefs();
    this.root = root;
    const stale = removeStale(root, (pid) => existsSync(`${this.procRoot}/${pid}`));
    if (stale.length > 0) this.logger.info({ removed: stale }, "removed tracefs leftovers of dead agents");
    this.instanceDir = `${root}/instances/${this.instanceName}`;
    this.releaseKernelResources();
    this.registerCleanup();
    try {
      mkdirSync(this.instanceDir);
      this.configureBuffers();
      const header = this.readPageHeader();
      this.enableTracepoints();
      this.placeUprobes();
      const pageSize = this.pageSize(header);
      this.table = this.seedProcessTable();
      this.correlator = new TraceCorrelator(sink, {
        table: this.table,
        procRoot: this.procRoot,
        ownTids: this.ownTids(),
        maxPending: this.settings.maxPending,
        pendingTimeoutMs: this.settings.pendingTimeoutMs,
        maxThreads: this.settings.maxProcesses,
      });
      this.seedThreads(this.correlator);
      this.reader = new RawPipeReader(this.instanceDir, pageSize, header);
      this.reader.open();
    } catch (error) {
      this.releaseKernelResources();
      this.unregisterCleanup();
      if (error instanceof VigilError) throw error;
      throw unavailable(
        `ftrace collector could not set up ${this.instanceDir}: ${(error as Error).message}`,
        error,
      );
    }
    const interval = this.settings.pollIntervalMs;
    this.failure = undefined;
    this.consecutiveReadErrors = 0;
    this.timer = setInterval(() => this.pollOrStop(), interval);
    this.timer.unref();
    this.logger.info(
      { instance: this.instanceDir, probes: this.counters.probesPlaced, intervalMs: interval },
      "ftrace collector started",
    );
  }

  async stop(): Promise<void> {
    if (this.timer !== undefined) {
      clearInterval(this.timer);
      this.timer = undefined;
      this.poll();
    }
    this.releaseKernelResources();
    this.unregisterCleanup();
  }

  stats(): Record<string, number> {
    const kernel = this.reader?.kernelStats() ?? { overrun: 0, dropped: 0, entries: 0 };
    return {
      ...this.counters,
      ...(this.correlator?.counters ?? {}),
      pending: this.correlator?.pendingCount ?? 0,
      cachedProcesses: this.table?.size ?? 0,
      processCacheEvictions: this.table?.evictions ?? 0,
      kernelOverrun: kernel.overrun,
      kernelDropped: kernel.dropped,
      kernelUnread: kernel.entries,
    };
  }

  private async requireTracefs(): Promise<string> {
    if (process.getuid?.() !== 0) {
      throw unavailable(
        "ftrace collector needs root (tracefs and uprobes are root-only); run the agent as root",
      );
    }
    const root = await locateTracefs(this.options.tracefsRoot);
    if (root === undefined) {
      throw unavailable(
        "tracefs is not available: mount it (mount -t tracefs nodev /sys/kernel/tracing) on a kernel with CONFIG_FTRACE, as root",
      );
    }
    return root;
  }

  /** The watchdog's view: the poll threw (its timer is stopped), or reads keep failing. */
  health(): CollectorHealthReport {
    if (this.failure !== undefined) return { ok: false, error: this.failure };
    if (this.consecutiveReadErrors >= 3) {
      return { ok: false, error: `${this.consecutiveReadErrors} reads of trace_pipe_raw failed in a row` };
    }
    return { ok: true };
  }

  /** A throw out of a timer callback would take the agent down: stop polling and let the watchdog act. */
  private pollOrStop(): void {
    try {
      this.poll();
    } catch (error) {
      this.failure = `poll threw: ${(error as Error).message}`;
      if (this.timer) clearInterval(this.timer);
      this.timer = undefined;
      this.logger.error({ err: error }, "ftrace poll threw; polling stopped");
    }
  }

  /** For the procfs collector's knownPids: processes this collector has seen. */
  knowsPid(pid: number): boolean {
    return this.table?.peek(pid) !== undefined;
  }

  /** Drains the ring buffers and feeds records, in time order, to the correlator. */
  poll(): void {
    const reader = this.reader;
    const correlator = this.correlator;
    if (reader === undefined || correlator === undefined) return;
    this.counters.polls++;
    // Trace clock is CLOCK_MONOTONIC (trace_clock=mono); hrtime reads the same clock.
    correlator.setWallOffsetUs(Math.round(Date.now() * 1000 - Number(process.hrtime.bigint() / 1000n)));
    const batch = this.batch;
    batch.clear();
    try {
      const read = reader.readInto(batch, MAX_PAGES_PER_CPU_PER_POLL);
      this.counters.pages += read.pages;
      this.counters.lostEvents += read.missed;
      this.counters.lostEventsUncounted += read.missedUncounted;
      this.counters.malformedPages += read.malformedPages;
      this.consecutiveReadErrors = 0;
    } catch (error) {
      this.counters.readErrors++;
      this.consecutiveReadErrors++;
      this.logger.warn({ err: error }, "reading trace_pipe_raw failed");
    }
    batch.sort();
    const decoders = this.decoders;
    for (const index of batch.order) {
      const buffer = batch.buffers[index];
      const base = batch.offsets[index];
      const decoder = decoders[buffer.readUInt16LE(base)];
      if (decoder === undefined) {
        this.counters.unknownRecords++;
        continue;
      }
      try {
        correlator.handle(decoder, buffer, base, batch.lengths[index], batch.timestamps[index]);
      } catch (error) {
        // A hostile or unexpected record must not stop collection.
        this.counters.handlerErrors++;
        if (this.counters.handlerErrors <= 10)
          this.logger.warn({ err: error, event: decoder.name }, "trace record failed");
      }
    }
    correlator.sweep();
    batch.clear();
  }

  private configureBuffers(): void {
    const subbuf = this.settings.subbufSizeKb;
    if (existsSync(`${this.instanceDir}/buffer_subbuf_size_kb`)) {
      writeControl(this.instanceDir, "buffer_subbuf_size_kb", String(subbuf));
    }
    writeControl(this.instanceDir, "buffer_size_kb", String(this.settings.bufferSizeKb));
    writeControl(this.instanceDir, "trace_clock", "mono");
    // Wake readers on any data (we poll, but a blocking reader elsewhere would otherwise wait for half a buffer).
    if (existsSync(`${this.instanceDir}/buffer_percent`))
      writeControl(this.instanceDir, "buffer_percent", "0");
  }

  private readPageHeader(): PageHeaderFormat {
    const local = `${this.instanceDir}/events/header_page`;
    return parsePageHeaderFormat(
      readFileSync(existsSync(local) ? local : `${this.root}/events/header_page`, "utf8"),
    );
  }

  private pageSize(header: PageHeaderFormat): number {
    if (existsSync(`${this.instanceDir}/buffer_subbuf_size_kb`)) {
      return Number(readControl(this.instanceDir, "buffer_subbuf_size_kb").trim()) * 1024;
    }
    return header.dataOffset + 4080; // The classic 4 KiB page.
  }

  private enableTracepoints(): void {
    for (const spec of tracepointPlan()) {
      const dir = `events/${spec.group}/${spec.event}`;
      if (!existsSync(`${this.instanceDir}/${dir}/format`)) {
        if (spec.optional) continue;
        throw unavailable(
          `tracepoint ${spec.group}/${spec.event} is missing (kernel needs CONFIG_FTRACE_SYSCALLS)`,
        );
      }
      this.enable(dir, spec, spec.filter);
    }
  }

  private placeUprobes(): void {
    if (!existsSync(`${this.root}/uprobe_events`)) {
      this.logger.warn(
        "no uprobe_events (CONFIG_UPROBE_EVENTS): no argv, paths or connect addresses from ftrace",
      );
      return;
    }
    const libc = this.options.libcPath ?? locateLibc(this.procRoot);
    if (libc === undefined) {
      this.logger.warn("glibc not found: no uprobes, so no argv, paths or connect addresses from ftrace");
      return;
    }
    const symbols = readDynamicFunctionSymbols(readFileSync(libc));
    const argvSlots = this.settings.argvSlots;
    const plan = uprobePlan({
      sensitivePaths: this.settings.sensitivePaths,
      argvSlots,
      includeUnixConnect: this.settings.includeUnixConnect,
    });
    const taken = new Set<number>();
    for (const spec of plan) {
      const definition = uprobeDefinition(spec, this.probeGroup, libc, symbols, taken);
      if (definition === undefined) {
        this.logger.debug({ probe: spec.event }, "libc symbol missing or shared; probe skipped");
        continue;
      }
      writeControl(this.root, "uprobe_events", `${definition}\n`, true);
      this.enable(`events/${this.probeGroup}/${spec.event}`, spec, spec.filter);
      this.counters.probesPlaced++;
    }
  }

  private enable(dir: string, spec: DecoderSpec, filter: string | undefined): void {
    const format = parseEventFormat(readFileSync(`${this.instanceDir}/${dir}/format`, "utf8"));
    this.decoders[format.id] = compileDecoder(format, spec);
    if (filter !== undefined) writeControl(this.instanceDir, `${dir}/filter`, filter);
    writeControl(this.instanceDir, `${dir}/enable`, "1");
  }

  /** Every running process, so events of long-lived ones have their ancestry. */
  private seedProcessTable(): ProcessCache {
    if (this.options.processCache !== undefined) {
      this.options.processCache.seed();
      return this.options.processCache;
    }
    const table = new ProcessCache({
      procRoot: this.procRoot,
      bootTimeUs: readBootTimeUs(this.procRoot),
      maxArgs: 256,
      maxEntries: this.settings.maxProcesses,
      userNames: new UserNames(this.options.passwdPath),
    });
    table.seed();
    return table;
  }

  private seedThreads(correlator: TraceCorrelator): void {
    for (const name of readdirSync(this.procRoot)) {
      const pid = Number(name);
      if (!Number.isInteger(pid) || pid <= 0) continue;
      let tids: string[];
      try {
        tids = readdirSync(`${this.procRoot}/${name}/task`);
      } catch {
        continue;
      }
      for (const tid of tids) correlator.noteThread(Number(tid), pid);
    }
  }

  private ownTids(): Set<number> {
    const tids = new Set<number>([process.pid]);
    for (const tid of readdirSync(`${this.procRoot}/self/task`)) tids.add(Number(tid));
    return tids;
  }

  /** Synchronous so it also works from the process 'exit' event. Idempotent. */
  private releaseKernelResources(): void {
    this.reader?.close();
    this.reader = undefined;
    if (this.root === "") return;
    try {
      removeInstance(this.root, this.instanceName);
    } catch (error) {
      this.logger.warn({ err: error, instance: this.instanceDir }, "could not remove tracefs instance");
    }
    try {
      removeProbeGroup(this.root, this.probeGroup);
    } catch (error) {
      this.logger.warn({ err: error, group: this.probeGroup }, "could not remove uprobes");
    }
  }

  private registerCleanup(): void {
    if (this.cleanupRegistered) return;
    this.cleanupRegistered = true;
    process.once("exit", this.onProcessExit);
    for (const signal of EXIT_SIGNALS) process.on(signal, this.onSignal);
  }

  private unregisterCleanup(): void {
    if (!this.cleanupRegistered) return;
    this.cleanupRegistered = false;
    process.removeListener("exit", this.onProcessExit);
    for (const signal of EXIT_SIGNALS) process.removeListener(signal, this.onSignal);
  }
}

function unavailable(message: string, cause?: unknown): VigilError {
  return new VigilError(ErrorCodes.COLLECTOR_UNAVAILABLE, message, { cause });
}
