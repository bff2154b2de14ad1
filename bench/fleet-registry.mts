// The fleet registry on a real nats-server -js (KV bucket vigil-agents), with
// N agents held by server A and the fleet view read on server B:
//   connect storm       N connect records written by A until B's watch holds them all
//   heartbeat round     one heartbeat per agent (new counters) until B sees every one;
//                       includes up to one tick (heartbeat interval / 5) of coalescing
//   query / stats       GET /api/v1/agents filtering and /api/v1/fleet/stats over N
//                       records, CPU only (what each API call costs the server)
// Figures only; nothing fails on a slow one.
//   npm run build && node bench/fleet-registry.mts [agents]
import { type Bus, connectNatsBus, silentLogger } from "@vigil/common";
import type { AgentCounters } from "@vigil/proto";
import { AgentRegistry, FleetRegistry, fleetStats, queryAgents } from "@vigil/server";
import { startNatsServer } from "../test/harness/nats-server.ts";
import { benchIdentity, measure, rateFields, report } from "./bench-util.mts";

const AGENTS = Number(process.argv[2] ?? 2000);
const INTERVAL_MS = 1000;
const ROUNDS = 3;
const logger = silentLogger();

function counters(round: number): AgentCounters {
  return {
    eventsCollected: round,
    eventsSent: round,
    eventsDropped: 0,
    batchesSent: round,
    batchesAcked: round,
    batchesResent: 0,
    pendingBatches: 0,
    cpuPercent: 1.5,
    rssBytes: 90_000_000,
    droppedByReason: {},
    collectorCounters: { "driver.driverDropped": 0, "ftrace.kernelDropped": 0 },
    config: undefined,
    agentVersion: "0.1.0",
    collectors: [{ name: "ftrace", state: "running", lastError: "", restarts: 0, lastRestartUs: 0 }],
    eventsPerSecond: { exec: round, network: 10 },
    spoolBytes: 0,
    oldestUnackedAgeMs: 0,
    governor: undefined,
    lastError: "",
    tasks: {},
  };
}

async function until(condition: () => boolean, what: string, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

const nats = await startNatsServer();
const buses: Bus[] = [];
const fleets: FleetRegistry[] = [];
try {
  const open = async (serverId: string, local: AgentRegistry) => {
    const bus = await connectNatsBus({ servers: [nats.url], name: serverId, logger });
    buses.push(bus);
    const fleet = await FleetRegistry.open({
      bus,
      local,
      serverId,
      heartbeatIntervalMs: INTERVAL_MS,
      endStreams: () => 0,
      logger,
    });
    fleets.push(fleet);
    return fleet;
  };
  const localA = new AgentRegistry();
  await open("bench-a", localA);
  const fleetB = await open("bench-b", new AgentRegistry());

  let started = performance.now();
  for (let i = 0; i < AGENTS; i++)
    localA.connected(benchIdentity(`bench-${i}`), `session-${i}`, ["ftrace"], 0);
  await until(() => fleetB.records().length === AGENTS, "B to see every connect");
  let seconds = (performance.now() - started) / 1000;
  report("fleet connect storm", {
    agents: AGENTS,
    "records/s": Math.round(AGENTS / seconds),
    ms: Math.round(seconds * 1000),
  });

  let best = 0;
  for (let round = 1; round <= ROUNDS; round++) {
    started = performance.now();
    for (const record of localA.list()) {
      record.counters = counters(round);
      record.lastSeen = new Date().toISOString();
    }
    await until(
      () => fleetB.records().every((r) => r.counters?.eventsCollected === round),
      `B to see heartbeat round ${round}`,
    );
    seconds = (performance.now() - started) / 1000;
    best = Math.max(best, AGENTS / seconds);
  }
  report("fleet heartbeat round", {
    agents: AGENTS,
    "writes/s": Math.round(best),
    agents_at_10s_interval: Math.round(best * 10),
  });

  const records = fleetB.records();
  const now = Date.now();
  const query = measure(() => {
    queryAgents(records, { status: "online", hostname: "bench-host", limit: 100, offset: 0 }, now);
    return records.length;
  });
  report("fleet query (filter+page)", { agents: AGENTS, ...rateFields(query, "records") });
  const stats = measure(() => {
    fleetStats(records, now);
    return records.length;
  });
  report("fleet stats", { agents: AGENTS, ...rateFields(stats, "records") });
} finally {
  for (const fleet of fleets) await fleet.close();
  for (const bus of buses) await bus.close();
  await nats.stop();
}
