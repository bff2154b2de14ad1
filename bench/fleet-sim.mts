// Fleet simulator (issue 5): thousands of agents on loopback against the
// server tier, with a real nats-server -js as the bus. Rates and ratios are
// printed; nothing is asserted.
//   one server    startVigilServer in this process (its CPU and RSS are this
//                 process's), N simulated agents in child processes
//                 (bench/fleet-sim-agents.mts: own connection each, Hello,
//                 heartbeats, batches of the bench event mix at a set rate,
//                 reconnects like vigil-agent). Reports streams reached, RSS
//                 per stream, events/s acked and per server CPU second, ack
//                 latency p50/p99.
//   two servers   two `vigil server` processes registered in the Consul double
//                 (TTL checks), M agents finding them through Consul: agents
//                 per instance, then one instance killed -9: time until every
//                 agent is connected again, and events generated vs stored in
//                 JetStream (lost, stored twice).
//   npm run build && node bench/fleet-sim.mts [agents] [events/s per agent] [failover agents]
import { type ChildProcess, fork, spawn, spawnSync } from "node:child_process";
import { join } from "node:path";
import { type Bus, connectNatsBus, EVENTS_STREAM, keepBatchObjectsYoung, silentLogger } from "@vigil/common";
import { BusEventBatch } from "@vigil/proto";
import { serverConfigSchema, startVigilServer } from "@vigil/server";
import { freeLoopbackPort, type NatsServerHandle, startNatsServer } from "../test/harness/nats-server.ts";
import { benchSeconds, forceGc, report } from "./bench-util.mts";
import type { FleetAgentsCommand, FleetAgentsParams, FleetAgentsReport } from "./fleet-sim-agents.mts";

// The process setting `vigil server` starts with (cli/src/commands/distributed.ts).
keepBatchObjectsYoung();

const AGENTS = Number(process.argv[2] ?? 10_000);
const RATE = Number(process.argv[3] ?? 10);
const FAILOVER_AGENTS = Number(process.argv[4] ?? 2000);
const SECONDS = Math.max(5, benchSeconds());
const CHILDREN = 4;
const TOKEN = "fleet-sim-agent-token-0123456789";
const CHILD = join(import.meta.dirname, "fleet-sim-agents.mts");
const logger = silentLogger();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// The Consul double (test/doubles) uses TypeScript that type stripping alone does not run.
if (!process.execArgv.includes("--experimental-transform-types")) {
  const again = spawnSync(
    process.execPath,
    [
      "--experimental-transform-types",
      "--disable-warning=ExperimentalWarning",
      ...process.execArgv,
      import.meta.filename,
      ...process.argv.slice(2),
    ],
    { stdio: "inherit" },
  );
  process.exit(again.status ?? 1);
}
const { ConsulDouble } = await import("../test/doubles/consul-double.ts");
const VIGIL_CLI = join(import.meta.dirname, "..", "cli", "dist", "main.js");

/** `vigil server` as a child process, configured by VIGIL_SERVER_* variables. */
function spawnServer(name: string, env: Record<string, string>) {
  const child = spawn(process.execPath, [VIGIL_CLI, "server"], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let output = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-8192);
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  return {
    name,
    output: () => output,
    isRunning: () => child.exitCode === null && child.signalCode === null,
    kill9: async () => {
      child.kill("SIGKILL");
      await exited;
    },
    stop: async () => {
      child.kill("SIGTERM");
      await exited;
    },
  };
}

// --- The simulated agents, in child processes ----------------------------------

class AgentProcesses {
  private readonly children: ChildProcess[] = [];

  constructor(params: Omit<FleetAgentsParams, "first" | "count">, total: number) {
    const per = Math.ceil(total / CHILDREN);
    for (let first = 0; first < total; first += per) {
      const child = fork(CHILD, [JSON.stringify({ ...params, first, count: Math.min(per, total - first) })], {
        stdio: ["ignore", "inherit", "inherit", "ipc"],
        execArgv: ["--max-old-space-size=4096"],
      });
      this.children.push(child);
    }
  }

  send(command: FleetAgentsCommand): void {
    for (const child of this.children) if (child.connected) child.send(command);
  }

  /** Every child's report, summed (latency samples concatenated). */
  async report(resetLatency = false): Promise<FleetAgentsReport> {
    const reports = await Promise.all(
      this.children.map(
        (child) =>
          new Promise<FleetAgentsReport>((resolve, reject) => {
            const onExit = (code: number | null) => reject(new Error(`fleet agents exited (${code})`));
            const onMessage = (message: FleetAgentsReport) => {
              child.off("message", onMessage);
              child.off("exit", onExit);
              resolve(message);
            };
            child.on("message", onMessage);
            child.once("exit", onExit);
            child.send({ type: "report", resetLatency } satisfies FleetAgentsCommand);
          }),
      ),
    );
    const sum: FleetAgentsReport = {
      type: "report",
      agents: 0,
      welcomed: 0,
      byServer: {},
      generatedEvents: 0,
      ackedEvents: 0,
      unackedBatches: 0,
      notStored: 0,
      reconnects: 0,
      latencyMs: [],
    };
    for (const part of reports) {
      sum.agents += part.agents;
      sum.welcomed += part.welcomed;
      sum.generatedEvents += part.generatedEvents;
      sum.ackedEvents += part.ackedEvents;
      sum.unackedBatches += part.unackedBatches;
      sum.notStored += part.notStored;
      sum.reconnects += part.reconnects;
      for (const [server, count] of Object.entries(part.byServer))
        sum.byServer[server] = (sum.byServer[server] ?? 0) + count;
      for (const sample of part.latencyMs) sum.latencyMs.push(sample);
    }
    return sum;
  }

  async until(what: string, timeoutMs: number, done: (report: FleetAgentsReport) => boolean) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const current = await this.report();
      if (done(current)) return current;
      if (Date.now() > deadline) {
        throw new Error(
          `fleet-sim: ${what} not reached in ${timeoutMs} ms: ${JSON.stringify({ ...current, latencyMs: [] })}`,
        );
      }
      await sleep(100);
    }
  }

  async close(): Promise<void> {
    const exits = this.children.map((child) => new Promise((resolve) => child.once("exit", resolve)));
    this.send({ type: "close" });
    const timer = setTimeout(() => {
      for (const child of this.children) child.kill("SIGKILL");
    }, 15_000);
    await Promise.all(exits);
    clearTimeout(timer);
  }
}

function percentile(samples: number[], p: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** Stored messages of the events stream: events in them, and (agent, sequence) pairs seen twice. */
async function countStored(bus: Bus): Promise<{ events: number; batches: number; duplicates: number }> {
  const seen = new Set<string>();
  let events = 0;
  let batches = 0;
  let duplicates = 0;
  for (let startSeq = 1; ; ) {
    const page = await bus.readStream(EVENTS_STREAM, { startSeq, limit: 10_000 });
    if (page.length === 0) break;
    for (const message of page) {
      const batch = BusEventBatch.decode(message.data);
      const id = `${batch.agentId}/${batch.sequence}`;
      batches++;
      if (seen.has(id)) duplicates++;
      else events += batch.events.length;
      seen.add(id);
    }
    startSeq = page[page.length - 1].seq + 1;
  }
  return { events, batches, duplicates };
}

// --- One server instance: streams, memory, throughput, latency ----------------------

async function oneServer(nats: NatsServerHandle): Promise<void> {
  const bus = await connectNatsBus({ servers: [nats.url], name: "fleet-sim-server", logger });
  const server = await startVigilServer({
    config: serverConfigSchema.parse({
      serverId: "fleet-sim-1",
      grpc: { host: "127.0.0.1", port: 0, agentToken: TOKEN, heartbeatIntervalMs: 10_000 },
      api: { host: "127.0.0.1", port: 0 },
    }),
    bus,
    logger,
  });
  await sleep(500);
  forceGc();
  const rssBefore = process.memoryUsage().rss;
  const agents = new AgentProcesses(
    {
      prefix: "fleet-a",
      token: TOKEN,
      servers: [`127.0.0.1:${server.grpcPort}`],
      rate: RATE,
      batchIntervalMs: 1000,
      window: 8,
      connectPerSecond: 500,
    },
    AGENTS,
  );
  const connectStarted = Date.now();
  let connected: FleetAgentsReport;
  try {
    connected = await agents.until("every agent welcomed", 10 * 60_000, (r) => r.welcomed === AGENTS);
  } catch (error) {
    connected = await agents.report();
    process.stdout.write(`${(error as Error).message}\n`);
  }
  const connectSeconds = (Date.now() - connectStarted) / 1000;
  await sleep(2000); // heartbeats flowing
  forceGc();
  const rssIdle = process.memoryUsage().rss;
  const streams = server.registry.onlineCount();
  report("fleet-sim streams", {
    agents: AGENTS,
    streams_reached: streams,
    welcomed: connected.welcomed,
    connect_seconds: connectSeconds,
    server_rss_MB: Math.round(rssIdle / 1024 / 1024),
    rss_KB_per_stream: (rssIdle - rssBefore) / 1024 / Math.max(1, streams),
  });

  agents.send({ type: "generate", on: true });
  await sleep(2000); // warm-up
  const start = await agents.report(true);
  const cpuBefore = process.cpuUsage();
  const started = process.hrtime.bigint();
  await sleep(SECONDS * 1000);
  const end = await agents.report(true);
  const busy = process.memoryUsage();
  const wallS = Number(process.hrtime.bigint() - started) / 1e9;
  const cpu = process.cpuUsage(cpuBefore);
  agents.send({ type: "generate", on: false });
  const serverCpuS = (cpu.user + cpu.system) / 1e6;
  const acked = end.ackedEvents - start.ackedEvents;
  const drained = await agents
    .until("every batch acked", 120_000, (r) => r.unackedBatches === 0)
    .catch(() => agents.report());
  report("fleet-sim ingest (1 server)", {
    agents: AGENTS,
    offered_events_s: AGENTS * RATE,
    "events/s": Math.round(acked / wallS),
    "events/server_cpu_s": Math.round(acked / serverCpuS),
    server_cpu_pct: Math.round((100 * serverCpuS) / wallS),
    ack_p50_ms: percentile(end.latencyMs, 50),
    ack_p99_ms: percentile(end.latencyMs, 99),
    server_rss_MB: Math.round(busy.rss / 1024 / 1024),
    server_heap_MB: Math.round(busy.heapUsed / 1024 / 1024),
    server_external_MB: Math.round(busy.external / 1024 / 1024),
    not_stored: drained.notStored,
    unacked_after: drained.unackedBatches,
    reconnects: drained.reconnects,
  });
  await agents.close();
  await server.close(0);
  await bus.close();
}

// --- Two instances behind the Consul double: spread and failover -----------------

async function twoServers(nats: NatsServerHandle): Promise<void> {
  const consul = await ConsulDouble.start();
  const ports = await Promise.all(
    ["fleet-sim-a", "fleet-sim-b"].map(async (name) => ({
      name,
      grpc: await freeLoopbackPort(),
      api: await freeLoopbackPort(),
    })),
  );
  const servers = ports.map((port) =>
    spawnServer(port.name, {
      VIGIL_SERVER_SERVER_ID: port.name,
      VIGIL_SERVER_NATS__SERVERS: nats.url,
      VIGIL_SERVER_GRPC__PORT: String(port.grpc),
      VIGIL_SERVER_GRPC__AGENT_TOKEN: TOKEN,
      VIGIL_SERVER_API__PORT: String(port.api),
      VIGIL_SERVER_CONSUL__REGISTER: "true",
      VIGIL_SERVER_CONSUL__ADDRESS: consul.url,
      VIGIL_SERVER_CONSUL__CHECK_TTL_MS: "3000",
      VIGIL_SERVER_LOG_LEVEL: "warn",
    }),
  );
  const deadline = Date.now() + 30_000;
  while (consul.instances().filter((instance) => instance.status === "passing").length < 2) {
    for (const server of servers)
      if (!server.isRunning()) throw new Error(`fleet-sim: ${server.name} exited:\n${server.output()}`);
    if (Date.now() > deadline) throw new Error("fleet-sim: servers not passing in Consul");
    await sleep(100);
  }
  const address = (index: number) => `127.0.0.1:${ports[index].grpc}`;
  const agents = new AgentProcesses(
    {
      prefix: "fleet-b",
      token: TOKEN,
      consul: { url: consul.url, service: "vigil-server" },
      rate: RATE,
      batchIntervalMs: 1000,
      window: 8,
      connectPerSecond: 500,
    },
    FAILOVER_AGENTS,
  );
  const spread = await agents.until("every agent welcomed", 120_000, (r) => r.welcomed === FAILOVER_AGENTS);
  agents.send({ type: "generate", on: true });
  await sleep(3000);
  await servers[0].kill9();
  const killedAt = Date.now();
  const failedOver = await agents.until(
    "every agent on the surviving server",
    120_000,
    (r) => (r.byServer[address(1)] ?? 0) === FAILOVER_AGENTS,
  );
  const failoverSeconds = (Date.now() - killedAt) / 1000;
  await sleep(3000);
  agents.send({ type: "generate", on: false });
  const drained = await agents.until("every batch acked", 120_000, (r) => r.unackedBatches === 0);
  const reader = await connectNatsBus({ servers: [nats.url], name: "fleet-sim-reader", logger });
  const stored = await countStored(reader);
  await reader.close();
  report("fleet-sim 2 servers/Consul", {
    agents: FAILOVER_AGENTS,
    on_a: spread.byServer[address(0)] ?? 0,
    on_b: spread.byServer[address(1)] ?? 0,
    failover_seconds: failoverSeconds,
    reconnects: failedOver.reconnects,
    events_generated: drained.generatedEvents,
    events_stored: stored.events,
    events_lost: drained.generatedEvents - stored.events,
    batches_stored_twice: stored.duplicates,
  });
  await agents.close();
  await servers[1].stop();
  await consul.stop();
}

// Each part on a nats-server of its own: the failover count reads a stream holding only its agents.
for (const part of [oneServer, twoServers]) {
  const nats = await startNatsServer();
  try {
    await part(nats);
  } finally {
    await nats.stop();
  }
}
