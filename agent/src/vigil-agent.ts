import {
  type AgentPolicy,
  createMetricsRegistry,
  EMPTY_AGENT_POLICY,
  Gauge,
  type HealthReport,
  type Logger,
  parseAgentSettings,
  type Registry,
} from "@vigil/common";
import type { AgentCounters, ConfigStatus, ConfigUpdate, Event, Hello } from "@vigil/proto";
import { EventBatcher } from "./batching/event-batcher";
import type { Collector, EventSink } from "./collectors/types";
import type { AgentConfig } from "./config";
import { EventEnricher } from "./context/event-enricher";
import { ExecutableHasher } from "./context/executable-hasher";
import { createServerSelector, createServerSource } from "./discovery/create-server-source";
import type { ServerSelector } from "./discovery/server-selector";
import type { ServerSource } from "./discovery/types";
import { AgentAuth } from "./enrollment/agent-auth";
import { CollectorWatchdog } from "./health/collector-watchdog";
import { EventRates } from "./health/event-rates";
import type { LoggerTree } from "./health/logger-tree";
import { ResourceGovernor } from "./health/resource-governor";
import { type HostInfo, readDriverVersion } from "./host/host-info";
import { openSpool } from "./spool/open-spool";
import type { BatchSpool } from "./spool/types";
import { TaskRunner } from "./tasks/task-runner";
import { ServerLink } from "./transport/server-link";
import { AGENT_VERSION } from "./version";

export interface VigilAgentOptions {
  config: AgentConfig;
  agentId: string;
  host: HostInfo;
  collectors: Collector[];
  logger: Logger;
  /** Where servers come from; default: the one `config.discovery` describes. */
  serverSource?: ServerSource;
  /** The tree `logger` belongs to: a ConfigUpdate's log.level is applied to all of it. */
  loggerTree?: LoggerTree;
}

/** Longest ConfigStatus.lastError sent in heartbeats. */
const MAX_CONFIG_ERROR_CHARS = 1000;

/**
 * Collectors → batcher → server link. Owns the agent's counters, reported in
 * heartbeats and on /metrics, and applies the server's ConfigUpdates to the
 * collectors that enforce policy (today the driver's filters).
 */
export class VigilAgent {
  readonly link: ServerLink;
  readonly spool: BatchSpool;
  readonly metrics: Registry;
  readonly serverSource: ServerSource;
  readonly serverSelector: ServerSelector;
  readonly governor: ResourceGovernor;
  readonly tasks: TaskRunner;
  private watchdog: CollectorWatchdog | undefined;
  private readonly batcher: EventBatcher;
  /** Entity ids and executable hashes, between the governor and the batcher. */
  private readonly enricher: EventEnricher;
  private readonly hasher: ExecutableHasher;
  private readonly rates = new EventRates();
  private lastError = "";
  private eventsCollected = 0;
  private lastCpu = process.cpuUsage();
  private lastCpuAt = process.hrtime.bigint();
  private collectorsStarted = false;
  /** An update that arrived before the collectors were started: applied once they are. */
  private pendingConfig: { version: number; policy: AgentPolicy } | undefined;
  private readonly configStatus: ConfigStatus = {
    appliedVersion: 0,
    updatesApplied: 0,
    updatesRejected: 0,
    settingsIgnored: 0,
    lastError: "",
  };

  constructor(private readonly options: VigilAgentOptions) {
    const { config, logger } = options;
    this.spool = openSpool(config, logger.child({ component: "spool" }));
    const discoveryLogger = logger.child({ component: "discovery" });
    this.serverSource = options.serverSource ?? createServerSource(config, discoveryLogger);
    this.serverSelector = createServerSelector(config, options.agentId, this.serverSource, discoveryLogger);
    this.link = new ServerLink({
      servers: this.serverSelector,
      auth: new AgentAuth({
        stateDir: config.stateDir,
        agentId: options.agentId,
        enrollmentToken: config.enrollmentToken,
        legacyToken: config.token,
        host: options.host,
        timeoutMs: config.transport.connectTimeoutMs,
        logger: logger.child({ component: "enrollment" }),
      }),
      tls: config.tls,
      transport: config.transport,
      hello: (lastAckedSequence) => this.hello(lastAckedSequence),
      counters: () => this.counters(),
      onTask: (task) => this.tasks.run(task),
      onConfig: (update) => this.onConfigUpdate(update),
      logger: logger.child({ component: "link" }),
      spool: this.spool,
    });
    this.batcher = new EventBatcher(config.batch, (events) => this.link.submit(events));
    this.hasher = new ExecutableHasher({ maxBytes: config.context.hashMaxBytes });
    this.enricher = new EventEnricher(
      {
        agentId: options.agentId,
        hasher: this.hasher,
        hashWaitMs: config.context.hashWaitMs,
        maxProcesses: config.context.maxProcesses,
      },
      (event) => this.batcher.add(event),
    );
    this.governor = new ResourceGovernor({
      ...config.limits,
      limits: { cpuPercent: config.limits.cpuPercent, rssBytes: config.limits.rssBytes },
      logger: logger.child({ component: "governor" }),
    });
    this.tasks = new TaskRunner({
      ...config.tasks,
      fileHashMaxBytes: config.tasks.fileHashMaxBytes,
      logger: logger.child({ component: "tasks" }),
      onError: (message) => this.noteError(message),
    });
    this.metrics = createMetricsRegistry("vigil-agent");
    this.registerMetrics();
  }

  async start(): Promise<void> {
    await this.serverSource.start();
    this.link.start();
    // The collector → batcher boundary: counted, then shed here while the
    // governor says so; never blocks a collector.
    const sink: EventSink = (event: Event) => {
      this.eventsCollected++;
      this.rates.count(event);
      if (this.governor.admit(event)) this.enricher.add(event);
    };
    this.governor.start();
    for (const collector of this.options.collectors) {
      await collector.start(sink);
      this.options.logger.info({ collector: collector.name }, "collector started");
    }
    const { watchdog } = this.options.config;
    this.watchdog = new CollectorWatchdog({
      ...watchdog,
      collectors: this.options.collectors,
      sink,
      logger: this.options.logger.child({ component: "watchdog" }),
      onError: (message) => this.noteError(message),
    });
    this.watchdog.start();
    this.collectorsStarted = true;
    // The local defaults first (a driver keeps the filters of a previous run),
    // then whatever the server sent while the collectors were starting.
    this.applyPolicy(undefined, EMPTY_AGENT_POLICY);
    const pending = this.pendingConfig;
    this.pendingConfig = undefined;
    if (pending) this.applyPolicy(pending.version, pending.policy);
  }

  /** Stops collecting, sends what is batched, waits up to drainMs for acks. */
  async stop(drainMs = 5000): Promise<boolean> {
    await this.watchdog?.stop();
    this.governor.stop();
    for (const collector of this.options.collectors) {
      try {
        await collector.stop();
      } catch (error) {
        this.options.logger.error(
          { collector: collector.name, err: error },
          "collector did not stop cleanly",
        );
      }
    }
    this.enricher.flush();
    this.batcher.flush();
    const drained = await this.link.whenDrained(drainMs);
    if (!drained) {
      this.options.logger.warn(
        { pendingBatches: this.link.pendingBatches() },
        "stopping with unacked batches",
      );
    }
    await this.link.stop();
    this.spool.close();
    this.serverSelector.close();
    await this.serverSource.stop();
    return drained;
  }

  /** Sends the current partial batch now (tests, replay end). */
  flush(): void {
    // An exec still waiting for its hash follows within context.hashWaitMs (stop() sends it at once).
    this.batcher.flush();
  }

  health(): HealthReport {
    return {
      healthy: this.link.isConnected(),
      checks: {
        server: this.link.isConnected() ? "connected" : "disconnected",
        pendingBatches: String(this.link.pendingBatches()),
      },
    };
  }

  counters(): AgentCounters {
    const link = this.link.counters;
    const now = process.hrtime.bigint();
    const cpu = process.cpuUsage(this.lastCpu);
    const elapsedUs = Number(now - this.lastCpuAt) / 1000;
    this.lastCpu = process.cpuUsage();
    this.lastCpuAt = now;
    const droppedByReason: Record<string, number> = { spoolOverflow: link.eventsDroppedOverflow };
    for (const [kind, shed] of Object.entries(this.governor.status().shedByKind)) {
      droppedByReason[`shed.${kind}`] = shed;
    }
    const collectorCounters: Record<string, number> = {};
    for (const [key, value] of Object.entries(this.spool.stats())) collectorCounters[`spool.${key}`] = value;
    for (const [key, value] of Object.entries({ ...this.hasher.counters, ...this.enricher.counters })) {
      collectorCounters[`context.${key}`] = value;
    }
    for (const collector of this.options.collectors) {
      for (const [key, value] of Object.entries(collector.stats())) {
        if (!Number.isFinite(value) || value < 0) continue;
        collectorCounters[`${collector.name}.${key}`] = Math.trunc(value);
        // A dotted key is a breakdown of a total (driver hookDrops.exec), not a reason of its own.
        if (!key.includes(".") && /drop|lost|overrun/i.test(key)) {
          droppedByReason[`${collector.name}.${key}`] = value;
        }
      }
    }
    return {
      eventsCollected: this.eventsCollected,
      eventsSent: link.eventsAcked,
      eventsDropped: Object.values(droppedByReason).reduce((sum, value) => sum + value, 0),
      batchesSent: link.batchesSent,
      batchesAcked: link.batchesAcked,
      batchesResent: link.batchesResent,
      pendingBatches: this.link.pendingBatches(),
      cpuPercent: elapsedUs > 0 ? ((cpu.user + cpu.system) / elapsedUs) * 100 : 0,
      rssBytes: process.memoryUsage.rss(),
      droppedByReason,
      collectorCounters,
      config: { ...this.configStatus },
      agentVersion: AGENT_VERSION,
      collectors:
        this.watchdog?.report() ??
        this.options.collectors.map((collector) => ({
          name: collector.name,
          state: this.collectorsStarted ? "running" : "stopped",
          lastError: "",
          restarts: 0,
          lastRestartUs: 0,
        })),
      eventsPerSecond: this.rates.takeRates(),
      spoolBytes: this.spool.stats().bytes ?? 0,
      oldestUnackedAgeMs: this.spool.oldestUnackedAgeMs(Date.now()),
      governor: this.governor.status(),
      lastError: this.lastError,
      tasks: { ...this.tasks.counters },
    };
  }

  /** The live settings in force (local config, or the server's ConfigUpdate). */
  runtimeSettings(): {
    batch: { maxEvents: number; flushIntervalMs: number };
    limits: { cpuPercent: number; rssBytes: number };
    logLevel: string;
  } {
    return {
      batch: this.batcher.currentOptions(),
      limits: this.governor.currentLimits(),
      logLevel: this.options.loggerTree?.currentLevel() ?? this.options.logger.level,
    };
  }

  /** Remembers the latest error worth an operator's eye for heartbeats (bounded). */
  private noteError(message: string): void {
    this.lastError =
      message.length > MAX_CONFIG_ERROR_CHARS ? `${message.slice(0, MAX_CONFIG_ERROR_CHARS)}…` : message;
  }

  /**
   * A ConfigUpdate is the full desired policy. Unknown keys are ignored (and
   * counted); a bad value rejects the whole update, and so does a collector
   * refusing it: the previous filters stay in force. Never throws: a bad
   * update must not take the agent down.
   */
  private onConfigUpdate(update: ConfigUpdate): void {
    const { logger } = this.options;
    try {
      const parsed = parseAgentSettings(update.settings);
      if (parsed.ignoredKeys.length > 0) {
        this.configStatus.settingsIgnored += parsed.ignoredKeys.length;
        logger.warn(
          { version: update.version, keys: parsed.ignoredKeys.slice(0, 20) },
          "unknown config settings ignored (is the server newer than this agent?)",
        );
      }
      if (!parsed.policy) {
        this.rejectConfig(update.version, parsed.errors.join("; "));
        return;
      }
      if (!this.collectorsStarted) {
        this.pendingConfig = { version: update.version, policy: parsed.policy };
        return;
      }
      this.applyPolicy(update.version, parsed.policy);
    } catch (error) {
      this.rejectConfig(update.version, `unexpected error: ${(error as Error).message}`);
    }
  }

  /** version undefined: the local defaults at start, not a server update. */
  private applyPolicy(version: number | undefined, policy: AgentPolicy): void {
    const changedBy: string[] = [];
    for (const collector of this.options.collectors) {
      if (!collector.applyPolicy) continue;
      const result = collector.applyPolicy(policy);
      if (!result.ok) {
        this.rejectConfig(version, `${collector.name}: ${result.error}`);
        return;
      }
      if (result.changed) changedBy.push(collector.name);
    }
    changedBy.push(...this.applyRuntime(policy));
    if (version === undefined) return;
    this.configStatus.appliedVersion = version;
    this.configStatus.updatesApplied++;
    this.configStatus.lastError = "";
    this.options.logger.info({ version, changed: changedBy }, "config update applied");
  }

  /**
   * The live settings of a policy: batching, limits, log level. An absent
   * key means the local config's value, so an update without it reverts.
   * Values were validated by parseAgentSettings. Returns what changed.
   */
  private applyRuntime(policy: AgentPolicy): string[] {
    const { config, loggerTree } = this.options;
    const changed: string[] = [];
    const batch = {
      maxEvents: policy.batch?.maxEvents ?? config.batch.maxEvents,
      flushIntervalMs: policy.batch?.flushIntervalMs ?? config.batch.flushIntervalMs,
    };
    const currentBatch = this.batcher.currentOptions();
    if (
      batch.maxEvents !== currentBatch.maxEvents ||
      batch.flushIntervalMs !== currentBatch.flushIntervalMs
    ) {
      this.batcher.setOptions(batch);
      changed.push("batch");
    }
    const limits = {
      cpuPercent: policy.limits?.cpuPercent ?? config.limits.cpuPercent,
      rssBytes: policy.limits?.rssBytes ?? config.limits.rssBytes,
    };
    const currentLimits = this.governor.currentLimits();
    if (limits.cpuPercent !== currentLimits.cpuPercent || limits.rssBytes !== currentLimits.rssBytes) {
      this.governor.setLimits(limits);
      changed.push("limits");
    }
    const level = policy.log?.level ?? loggerTree?.initialLevel ?? config.logLevel;
    if (loggerTree && loggerTree.currentLevel() !== level) {
      loggerTree.setLevel(level);
      changed.push("log");
    }
    return changed;
  }

  private rejectConfig(version: number | undefined, why: string): void {
    const error = why.length > MAX_CONFIG_ERROR_CHARS ? `${why.slice(0, MAX_CONFIG_ERROR_CHARS)}…` : why;
    this.configStatus.lastError = error;
    this.noteError(`config: ${error}`);
    if (version === undefined) {
      this.options.logger.error({ error }, "local default filters refused");
      return;
    }
    this.configStatus.updatesRejected++;
    this.options.logger.warn(
      { version, error, keptVersion: this.configStatus.appliedVersion },
      "config update rejected: the previous settings stay in force",
    );
  }

  private hello(lastAckedSequence: number): Hello {
    const { host, config } = this.options;
    return {
      agentId: this.options.agentId,
      ...host,
      agentVersion: AGENT_VERSION,
      collectors: this.options.collectors.map((collector) => collector.name),
      capabilities: ["batch-ack", "heartbeat", "config-update", "tasks"],
      labels: config.labels,
      groups: config.groups,
      // Read per Hello: the driver may be loaded or upgraded while the agent runs.
      driverVersion: readDriverVersion(),
      lastAckedSequence,
    };
  }

  private registerMetrics(): void {
    const agent = this;
    new Gauge({
      name: "vigil_agent_events_collected",
      help: "Events produced by collectors since start",
      registers: [this.metrics],
      collect() {
        this.set(agent.eventsCollected);
      },
    });
    new Gauge({
      name: "vigil_agent_events_acked",
      help: "Events the server acknowledged",
      registers: [this.metrics],
      collect() {
        this.set(agent.link.counters.eventsAcked);
      },
    });
    new Gauge({
      name: "vigil_agent_pending_batches",
      help: "Batches waiting for a server ack",
      registers: [this.metrics],
      collect() {
        this.set(agent.link.pendingBatches());
      },
    });
    new Gauge({
      name: "vigil_agent_discovery_servers",
      help: "Candidate servers discovery currently offers (static list, DNS or healthy Consul instances)",
      registers: [this.metrics],
      collect() {
        this.set(agent.serverSource.current().length);
      },
    });
    new Gauge({
      name: "vigil_agent_server_moves",
      help: "Times the agent left its server on discovery's word, by reason",
      labelNames: ["reason"],
      registers: [this.metrics],
      collect() {
        this.set({ reason: "failover" }, agent.serverSelector.counters.failovers);
        this.set({ reason: "rebalance" }, agent.serverSelector.counters.rebalances);
      },
    });
    new Gauge({
      name: "vigil_agent_config_applied_version",
      help: "Version of the last server ConfigUpdate applied (0: none)",
      registers: [this.metrics],
      collect() {
        this.set(agent.configStatus.appliedVersion);
      },
    });
    new Gauge({
      name: "vigil_agent_config_updates_rejected",
      help: "Server ConfigUpdates rejected (bad value or refused by a collector)",
      registers: [this.metrics],
      collect() {
        this.set(agent.configStatus.updatesRejected);
      },
    });
    new Gauge({
      name: "vigil_agent_events_dropped",
      help: "Events the spool dropped to stay within spool.maxBytes (or the memory bound) since start",
      registers: [this.metrics],
      collect() {
        this.set(agent.link.counters.eventsDroppedOverflow);
      },
    });
    new Gauge({
      name: "vigil_agent_spool_bytes",
      help: "Bytes in the agent's on-disk spool (unacked batches and not yet deleted segments)",
      registers: [this.metrics],
      collect() {
        this.set(agent.spool.stats().bytes ?? 0);
      },
    });
  }
}
