import { join } from "node:path";
import {
  type AgentConfig,
  loadAgentConfig,
  type RunningAgent,
  readCredential,
  startAgent,
} from "@vigil/agent";
import {
  createLogger,
  createMemoryBus,
  type Logger,
  SqliteAlertStore,
  SqliteEventStore,
} from "@vigil/common";
import { loadHubConfig, type RunningHub, type RunningReports, startHub, startReports } from "@vigil/hub";
import { loadServerConfig, startVigilServer, type VigilServer } from "@vigil/server";
import { ensureDataDir } from "../data-dir";

export interface EmbeddedOptions {
  configFile?: string;
  dataDir: string;
  apiPort?: number;
  grpcPort?: number;
  /** Replay these recorded event files instead of (or besides) watching the host. */
  replayFiles?: string[];
  /** Override the agent's collectors, e.g. ["replay"] for a demo without root. */
  collectors?: AgentConfig["collectors"];
  logger?: Logger;
  /** The report schedule's clock (tests move it past a period's end). */
  reportsClock?: () => number;
}

export interface EmbeddedVigil {
  server: VigilServer;
  hub: RunningHub;
  agent: RunningAgent;
  alertStore: SqliteAlertStore;
  /** Tiered reports as files under dataDir/reports (absent when the file turns reports.enabled off). */
  reports: RunningReports | undefined;
  stop(): Promise<void>;
}

/**
 * Embedded mode: server, hub and a local agent in this one process, joined by
 * the in-process bus; alerts in SQLite under dataDir, and the control plane
 * (rulesets, agent config, tasks, API tokens, enrolments, fleet registry) in
 * dataDir/control-plane.db, so what an operator pushed survives a restart.
 * The agent still talks to the server over loopback gRPC and enrols exactly as
 * in a fleet: once, with a one-time token, then with its credential in
 * dataDir/credential on every later start.
 */
export async function startEmbedded(options: EmbeddedOptions): Promise<EmbeddedVigil> {
  const dataDir = ensureDataDir(options.dataDir);
  const alertStorePath = join(dataDir, "alerts.db");
  const controlPlanePath = join(dataDir, "control-plane.db");
  const file = options.configFile;
  const serverConfig = loadServerConfig({
    file,
    section: file ? "server" : undefined,
    overrides: {
      grpc: {
        host: "127.0.0.1",
        ...(options.grpcPort !== undefined ? { port: options.grpcPort } : {}),
      },
      ...(options.apiPort !== undefined ? { api: { port: options.apiPort } } : {}),
      alertStorePath,
      enrollment: { enabled: true },
    },
  });
  const logger = options.logger ?? createLogger({ name: "vigil", level: serverConfig.logLevel });
  const loadedHubConfig = loadHubConfig({
    file,
    section: file ? "hub" : undefined,
    overrides: { alertStorePath },
  });
  // Events are kept for investigation in dataDir/events.db unless the file turns the writer off.
  const eventStorePath = loadedHubConfig.events.storePath ?? join(dataDir, "events.db");
  const hubConfig = {
    ...loadedHubConfig,
    events: {
      ...loadedHubConfig.events,
      enabled: loadedHubConfig.events.enabled ?? true,
      storePath: eventStorePath,
    },
    // Reports are on, as files in dataDir/reports, unless the file says otherwise. They are
    // started here rather than by the hub: the API (started first) serves and generates them.
    reports: {
      ...loadedHubConfig.reports,
      enabled: false,
      dir: loadedHubConfig.reports.dir ?? join(dataDir, "reports"),
    },
  };
  const eventStore = hubConfig.events.enabled
    ? new SqliteEventStore({ path: eventStorePath, logger })
    : undefined;
  const bus = createMemoryBus({ logger: logger.child({ component: "bus" }), kvPath: controlPlanePath });
  const alertStore = new SqliteAlertStore({ path: alertStorePath, logger });
  const reports =
    (loadedHubConfig.reports.enabled ?? true)
      ? await startReports(hubConfig, bus, logger.child({ component: "reports" }), {
          now: options.reportsClock,
        })
      : undefined;
  const server = await startVigilServer({
    config: serverConfig,
    bus,
    logger: logger.child({ component: "server" }),
    alertReader: alertStore,
    eventQueries: eventStore,
    reports,
    // Seeds the ruleset bucket from the hub's rules only on the first start: later
    // starts find the stored versions (the operator's changes included) and keep them.
    rulesSeedDir: hubConfig.rulesDir,
  });
  // An agent the control plane knows connects with its stored credential (a revoked
  // one stays refused). Otherwise (first start, or control-plane.db removed) it gets
  // a one-time token over loopback: it enrols with it, or is told "agent not
  // enrolled" for its old credential and enrols again; unused, the token expires.
  const stored = readCredential(dataDir);
  const known = stored && server.enrollment ? await server.enrollment.getAgent(stored.agentId) : undefined;
  const enrollment = known
    ? undefined
    : await server.enrollment?.createToken({ kind: "one-time", ttlMs: 10 * 60_000, label: "embedded agent" });
  const hub = await startHub(hubConfig, bus, logger.child({ component: "hub" }));
  const agentConfig = loadAgentConfig({
    file,
    section: file ? "agent" : undefined,
    overrides: {
      servers: [`127.0.0.1:${server.grpcPort}`],
      ...(enrollment ? { enrollmentToken: enrollment.token } : {}),
      stateDir: dataDir,
      // The governor measures the whole process, which here also runs the
      // server and the hub: it would shed the agent's events for their work.
      limits: { cpuPercent: 0, rssBytes: 0 },
      ...(options.collectors ? { collectors: options.collectors } : {}),
      ...(options.replayFiles?.length ? { replay: { files: options.replayFiles, rebaseTime: true } } : {}),
    },
  });
  const agent = await startAgent(agentConfig, logger.child({ component: "agent" }));
  logger.info(
    { api: `http://127.0.0.1:${server.apiPort}/api/v1/alerts`, alertStorePath, controlPlanePath },
    "Vigil embedded mode running: alerts at the API above, or `npx vigil alerts`",
  );
  return {
    server,
    hub,
    agent,
    alertStore,
    reports,
    stop: async () => {
      await agent.stop(3000);
      await hub.stop();
      await reports?.stop();
      await server.close();
      await bus.close();
      await alertStore.close();
      await eventStore?.close();
    },
  };
}
