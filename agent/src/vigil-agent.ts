import { createMetricsRegistry, Gauge, type HealthReport, type Logger, type Registry } from "@vigil/common";
import type { AgentCounters, Event, Hello, Task, TaskResult } from "@vigil/proto";
import { EventBatcher } from "./batching/event-batcher";
import type { Collector } from "./collectors/types";
import type { AgentConfig } from "./config";
import type { HostInfo } from "./host/host-info";
import { ServerLink } from "./transport/server-link";
import { AGENT_VERSION } from "./version";

export interface VigilAgentOptions {
  config: AgentConfig;
  agentId: string;
  host: HostInfo;
  collectors: Collector[];
  logger: Logger;
}

/**
 * Collectors → batcher → server link. Owns the agent's counters, reported in
 * heartbeats and on /metrics.
 */
export class VigilAgent {
  readonly link: ServerLink;
  readonly metrics: Registry;
  private readonly batcher: EventBatcher;
  private eventsCollected = 0;
  private lastCpu = process.cpuUsage();
  private lastCpuAt = process.hrtime.bigint();

  constructor(private readonly options: VigilAgentOptions) {
    const { config, logger } = options;
    this.link = new ServerLink({
      servers: config.servers,
      token: config.token,
      tls: config.tls,
      transport: config.transport,
      hello: (lastAckedSequence) => this.hello(lastAckedSequence),
      counters: () => this.counters(),
      onTask: (task) => this.onTask(task),
      logger: logger.child({ component: "link" }),
    });
    this.batcher = new EventBatcher(config.batch, (events) => this.link.submit(events));
    this.metrics = createMetricsRegistry("vigil-agent");
    this.registerMetrics();
  }

  async start(): Promise<void> {
    this.link.start();
    const sink = (event: Event) => {
      this.eventsCollected++;
      this.batcher.add(event);
    };
    for (const collector of this.options.collectors) {
      await collector.start(sink);
      this.options.logger.info({ collector: collector.name }, "collector started");
    }
  }

  /** Stops collecting, sends what is batched, waits up to drainMs for acks. */
  async stop(drainMs = 5000): Promise<boolean> {
    for (const collector of this.options.collectors) await collector.stop();
    this.batcher.flush();
    const drained = await this.link.whenDrained(drainMs);
    if (!drained) {
      this.options.logger.warn(
        { pendingBatches: this.link.pendingBatches() },
        "stopping with unacked batches",
      );
    }
    await this.link.stop();
    return drained;
  }

  /** Sends the current partial batch now (tests, replay end). */
  flush(): void {
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
    const droppedByReason: Record<string, number> = { pendingOverflow: link.eventsDroppedOverflow };
    for (const collector of this.options.collectors) {
      for (const [key, value] of Object.entries(collector.stats())) {
        if (/drop|lost|overrun/i.test(key)) droppedByReason[`${collector.name}.${key}`] = value;
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
    };
  }

  private hello(lastAckedSequence: number): Hello {
    const { host, config } = this.options;
    return {
      agentId: this.options.agentId,
      hostname: host.hostname,
      osName: host.osName,
      osVersion: host.osVersion,
      kernelRelease: host.kernelRelease,
      architecture: host.architecture,
      agentVersion: AGENT_VERSION,
      collectors: this.options.collectors.map((collector) => collector.name),
      capabilities: ["batch-ack", "heartbeat"],
      ipAddresses: host.ipAddresses,
      labels: config.labels,
      lastAckedSequence,
    };
  }

  private onTask(task: Task): TaskResult {
    // No task kinds exist yet; answering keeps the operator from waiting forever.
    this.options.logger.warn({ taskId: task.taskId, kind: task.kind }, "unsupported task kind");
    return { taskId: task.taskId, ok: false, output: "", error: `unsupported task kind "${task.kind}"` };
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
      name: "vigil_agent_events_dropped",
      help: "Events dropped because the pending-batch bound was reached",
      registers: [this.metrics],
      collect() {
        this.set(agent.link.counters.eventsDroppedOverflow);
      },
    });
  }
}
