import { type Bus, createMemoryBus, silentLogger } from "@vigil/common";
import type { AgentCounters } from "@vigil/proto";
import { waitFor } from "../../../test/harness/wait-for";
import { identityFromHello } from "../normalize/agent-identity";
import { AgentRegistry } from "./agent-registry";
import { AGENTS_BUCKET, agentKey, decodeRecord } from "./fleet-record";
import { FleetRegistry } from "./fleet-registry";

// The fleet registry in embedded mode (the in-process bus and KV): two
// registries on one bus stand for two servers. Writes on connect, heartbeat
// and disconnect; a superseded stream is ended; writes are coalesced per
// heartbeat. The same code on real NATS: test/integration/fleet-registry.test.ts.

const INTERVAL = 1000;
const logger = silentLogger();

const hello = (agentId: string) => ({
  agentId,
  hostname: `host-${agentId}`,
  osName: "Debian",
  osVersion: "12",
  kernelRelease: "6.1.0",
  architecture: "x64",
  agentVersion: "0.2.0",
  collectors: ["procfs"],
  capabilities: [],
  ipAddresses: ["10.0.0.7"],
  labels: { env: "prod" },
  groups: ["web", "db"],
  driverVersion: "1.4.0",
  lastAckedSequence: 0,
});

function counters(rate: number): AgentCounters {
  return {
    eventsCollected: 1,
    eventsSent: 1,
    eventsDropped: 0,
    batchesSent: 1,
    batchesAcked: 1,
    batchesResent: 0,
    pendingBatches: 0,
    cpuPercent: 1,
    rssBytes: 1,
    droppedByReason: {},
    collectorCounters: {},
    config: undefined,
    agentVersion: "0.2.0",
    collectors: [],
    eventsPerSecond: { exec: rate },
    spoolBytes: 0,
    oldestUnackedAgeMs: 0,
    governor: undefined,
    lastError: "",
    tasks: {},
  };
}

interface Server {
  local: AgentRegistry;
  fleet: FleetRegistry;
  ended: Array<{ agentId: string; reason: string }>;
}

describe("fleet registry - embedded (in-process KV)", () => {
  let bus: Bus;
  const servers: Server[] = [];

  async function server(serverId: string): Promise<Server> {
    const local = new AgentRegistry();
    const ended: Server["ended"] = [];
    const fleet = await FleetRegistry.open({
      bus,
      local,
      serverId,
      heartbeatIntervalMs: INTERVAL,
      endStreams: (agentId, reason) => {
        ended.push({ agentId, reason });
        // What the ingress does: the stream ends and the session disconnects.
        const record = local.get(agentId);
        if (record) local.disconnected(agentId, record.sessionId);
        return 1;
      },
      logger,
    });
    const handle = { local, fleet, ended };
    servers.push(handle);
    return handle;
  }

  beforeEach(() => {
    bus = createMemoryBus();
  });
  afterEach(async () => {
    for (const s of servers.splice(0)) await s.fleet.close();
    await bus.close();
  });

  test("connect, heartbeat and disconnect on one server are seen by the other", async () => {
    const a = await server("server-a");
    const b = await server("server-b");
    a.local.connected(identityFromHello(hello("a1")), "session-1", ["procfs"], 0);
    await waitFor(() => b.fleet.get("a1")?.state === "online", 5000, "b to see a1 online");
    expect(b.fleet.get("a1")).toMatchObject({
      serverId: "server-a",
      sessionId: "session-1",
      hostname: "host-a1",
      ips: ["10.0.0.7"],
      agentVersion: "0.2.0",
      driverVersion: "1.4.0",
      groups: ["web", "db"],
      labels: { env: "prod" },
    });
    const record = a.local.get("a1");
    if (!record) throw new Error("a1 not registered");
    record.counters = counters(42);
    record.lastSeen = new Date().toISOString();
    await waitFor(
      () => b.fleet.get("a1")?.counters?.eventsPerSecond.exec === 42,
      5000,
      "the heartbeat to reach b",
    );
    a.local.disconnected("a1", "session-1");
    await waitFor(() => b.fleet.get("a1")?.state === "offline", 5000, "b to see a1 offline");
    expect(b.fleet.get("a1")?.disconnectedMs).toBeGreaterThan(0);
  });

  test("a newer stream of the agent on another server ends the older one; the record names the newer", async () => {
    const a = await server("server-a");
    const b = await server("server-b");
    a.local.connected(identityFromHello(hello("a2")), "old-session", ["procfs"], 0);
    await waitFor(() => b.fleet.get("a2")?.sessionId === "old-session", 5000, "b to see the old session");
    await new Promise((resolve) => setTimeout(resolve, 5));
    b.local.connected(identityFromHello(hello("a2")), "new-session", ["procfs"], 0);
    await waitFor(() => a.ended.length === 1, 5000, "a to end its older stream");
    expect(a.ended[0].agentId).toBe("a2");
    expect(a.ended[0].reason).toContain("server server-b");
    expect(b.ended).toEqual([]);
    // a's disconnect of the old session must not mark the agent offline.
    await a.fleet.close();
    const entry = await (await bus.openKv(AGENTS_BUCKET)).get(agentKey("a2"));
    expect(entry && decodeRecord(entry.value)).toMatchObject({
      serverId: "server-b",
      sessionId: "new-session",
      state: "online",
    });
  });

  test("batches between heartbeats do not write; one write per heartbeat", async () => {
    const a = await server("server-a");
    a.local.connected(identityFromHello(hello("a3")), "s", ["procfs"], 0);
    const kv = await bus.openKv(AGENTS_BUCKET);
    await waitFor(async () => (await kv.get(agentKey("a3"))) !== undefined, 5000, "the connect write");
    const revisions: number[] = [];
    const watch = await kv.watch({ key: agentKey("a3"), initialValues: false }, (e) =>
      revisions.push(e.revision),
    );
    const record = a.local.get("a3");
    if (!record) throw new Error("a3 not registered");
    // Many batches (lastSeen and eventsReceived change), then one heartbeat.
    for (let i = 0; i < 50; i++) {
      record.lastSeen = new Date().toISOString();
      record.eventsReceived += 10;
    }
    record.counters = counters(5);
    await waitFor(() => revisions.length >= 1, 5000, "the heartbeat write");
    // Well under the refresh time: no second write for the same heartbeat.
    await new Promise((resolve) => setTimeout(resolve, INTERVAL * 0.6));
    watch.stop();
    expect(revisions).toHaveLength(1);
    expect(a.fleet.get("a3")?.eventsReceived).toBe(500);
  });
});
