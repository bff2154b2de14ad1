import { ErrorCodes, isVigilError, type Logger, startObservabilityServer } from "@vigil/common";
import { DriverCollector } from "./collectors/driver/driver-collector";
import { DriverReplayCollector } from "./collectors/driver/driver-replay-collector";
import { FtraceCollector } from "./collectors/ftrace/ftrace-collector";
import { ProcfsCollector } from "./collectors/procfs/procfs-collector";
import { ReplayCollector } from "./collectors/replay/replay-collector";
import type { Collector } from "./collectors/types";
import type { AgentConfig } from "./config";
import { createProcessCache } from "./context/create-process-cache";
import { LoggerTree } from "./health/logger-tree";
import { loadOrCreateAgentId, readHostInfo } from "./host/host-info";
import { checkAgentFiles } from "./security/check-agent-files";
import { VigilAgent } from "./vigil-agent";

export interface StartAgentOptions {
  /** The config file the agent was started with: checked like the state directory (README "Security"). */
  configFile?: string;
}

export interface RunningAgent {
  agent: VigilAgent;
  collectors: Collector[];
  /** Stops collectors, drains to the server (up to drainMs), closes. */
  stop(drainMs?: number): Promise<boolean>;
}

/**
 * Builds the configured collectors. Of the kernel sources only the best one
 * that works here runs (driver, then ftrace): both would report the same
 * syscalls. When one cannot run (module not loaded, no tracefs, not root) the
 * agent says why and falls back, down to procfs, unless collectorFallback is off.
 */
export async function buildCollectors(config: AgentConfig, logger: Logger): Promise<Collector[]> {
  const collectors: Collector[] = [];
  const names = new Set(config.collectors);
  const unavailable = (name: string, error: unknown, next: "ftrace" | "procfs") => {
    if (!config.collectorFallback || !isVigilError(error, ErrorCodes.COLLECTOR_UNAVAILABLE)) throw error;
    logger.warn(
      { reason: (error as Error).message },
      `${name} collector unavailable; falling back to ${next}`,
    );
    names.add(next);
  };
  let knownPids: ((pid: number) => boolean) | undefined;
  // One process cache for the kernel source and procfs, seeded from /proc once.
  const processCache = createProcessCache(config);
  if (names.has("driver")) {
    const driver = new DriverCollector({
      logger: logger.child({ collector: "driver" }),
      watchedPrefixes: config.driverWatchedPrefixes,
      processCache,
    });
    try {
      driver.probe();
      collectors.push(driver);
      knownPids = (pid) => driver.knowsPid(pid);
      names.delete("ftrace");
    } catch (error) {
      unavailable("driver", error, "ftrace");
    }
  }
  if (names.has("ftrace")) {
    const ftrace = new FtraceCollector({ logger: logger.child({ collector: "ftrace" }), processCache });
    try {
      await ftrace.probe();
      collectors.push(ftrace);
      knownPids = (pid) => ftrace.knowsPid(pid);
    } catch (error) {
      unavailable("ftrace", error, "procfs");
    }
  }
  if (names.has("procfs")) {
    // After its first inventory scan, procfs reports only what the kernel source missed.
    collectors.push(
      new ProcfsCollector({
        logger: logger.child({ collector: "procfs" }),
        intervalMs: config.procfsIntervalMs,
        knownPids,
        processCache,
      }),
    );
  }
  if (names.has("replay")) {
    collectors.push(
      new ReplayCollector({
        files: config.replay.files,
        rebaseTime: config.replay.rebaseTime,
        rate: config.replay.rate,
        logger: logger.child({ collector: "replay" }),
      }),
    );
  }
  if (names.has("driver-replay")) {
    collectors.push(
      new DriverReplayCollector({
        files: config.driverReplay.files,
        rebaseTime: config.driverReplay.rebaseTime,
        logger: logger.child({ collector: "driver-replay" }),
      }),
    );
  }
  return collectors;
}

export async function startAgent(
  config: AgentConfig,
  baseLogger: Logger,
  collectors?: Collector[],
  options: StartAgentOptions = {},
): Promise<RunningAgent> {
  // Every logger of the agent hangs off one tree, so a server-pushed log.level reaches them all.
  const loggerTree = new LoggerTree(baseLogger);
  const logger = loggerTree.root;
  // Refuses to start on insecure permissions, before anything is read from or written to them.
  checkAgentFiles(config, options.configFile, logger);
  const agentId = config.agentId ?? loadOrCreateAgentId(config.stateDir);
  const chosen = collectors ?? (await buildCollectors(config, logger));
  const agent = new VigilAgent({
    config,
    agentId,
    host: readHostInfo(),
    collectors: chosen,
    logger,
    loggerTree,
  });
  await agent.start();
  const observability = config.metrics
    ? await startObservabilityServer({
        ...config.metrics,
        registry: agent.metrics,
        health: () => agent.health(),
      })
    : undefined;
  logger.info(
    {
      agentId,
      discovery: config.discovery.mode,
      servers: agent.serverSource.current().map((server) => server.address),
      collectors: chosen.map((collector) => collector.name),
    },
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
