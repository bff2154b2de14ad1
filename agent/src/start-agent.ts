import { ErrorCodes, isVigilError, type Logger, startObservabilityServer } from "@vigil/common";
import { FtraceCollector } from "./collectors/ftrace/ftrace-collector";
import { ProcfsCollector } from "./collectors/procfs/procfs-collector";
import { ReplayCollector } from "./collectors/replay/replay-collector";
import type { Collector } from "./collectors/types";
import type { AgentConfig } from "./config";
import { loadOrCreateAgentId, readHostInfo } from "./host/host-info";
import { VigilAgent } from "./vigil-agent";

export interface RunningAgent {
  agent: VigilAgent;
  collectors: Collector[];
  /** Stops collectors, drains to the server (up to drainMs), closes. */
  stop(drainMs?: number): Promise<boolean>;
}

/**
 * Builds the configured collectors, best first. When ftrace cannot run here
 * (no tracefs, not root) the agent says so and carries on with procfs, unless
 * configured not to.
 */
export async function buildCollectors(config: AgentConfig, logger: Logger): Promise<Collector[]> {
  const collectors: Collector[] = [];
  const names = new Set(config.collectors);
  let ftrace: FtraceCollector | undefined;
  if (names.has("ftrace")) {
    const candidate = new FtraceCollector({ logger: logger.child({ collector: "ftrace" }) });
    try {
      await candidate.probe();
      collectors.push(candidate);
      ftrace = candidate;
    } catch (error) {
      if (!config.ftraceFallbackToProcfs || !isVigilError(error, ErrorCodes.COLLECTOR_UNAVAILABLE))
        throw error;
      logger.warn(
        { reason: (error as Error).message },
        "ftrace collector unavailable; watching this host with procfs only",
      );
      names.add("procfs");
    }
  }
  if (names.has("procfs")) {
    // After its first inventory scan, procfs reports only what ftrace missed.
    const knownPids = ftrace ? (pid: number) => (ftrace as FtraceCollector).knowsPid(pid) : undefined;
    collectors.push(
      new ProcfsCollector({
        logger: logger.child({ collector: "procfs" }),
        intervalMs: config.procfsIntervalMs,
        knownPids,
      }),
    );
  }
  if (names.has("replay")) {
    collectors.push(
      new ReplayCollector({
        files: config.replay.files,
        rebaseTime: config.replay.rebaseTime,
        logger: logger.child({ collector: "replay" }),
      }),
    );
  }
  return collectors;
}

export async function startAgent(
  config: AgentConfig,
  logger: Logger,
  collectors?: Collector[],
): Promise<RunningAgent> {
  const agentId = config.agentId ?? loadOrCreateAgentId(config.stateDir);
  const chosen = collectors ?? (await buildCollectors(config, logger));
  const agent = new VigilAgent({ config, agentId, host: readHostInfo(), collectors: chosen, logger });
  await agent.start();
  const observability = config.metrics
    ? await startObservabilityServer({
        ...config.metrics,
        registry: agent.metrics,
        health: () => agent.health(),
      })
    : undefined;
  logger.info(
    { agentId, servers: config.servers, collectors: chosen.map((collector) => collector.name) },
    "agent started",
  );
  return {
    agent,
    collectors: chosen,
    stop: async (drainMs?: number) => {
      const drained = await agent.stop(drainMs);
      await observability?.close();
      return drained;
    },
  };
}
