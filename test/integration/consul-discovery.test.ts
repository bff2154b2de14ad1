// Agents find in-process vigil-servers (real gRPC on loopback) through the
// Consul double: servers register themselves (HTTP check on /healthz, really
// polled), agents spread by rendezvous hashing, fail over within seconds when
// their server goes critical or its process dies, and move to a newly added
// server only after the randomized rebalance delay. Every event sent arrives
// on the bus exactly once.

import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type AgentConfig, agentConfigSchema, rendezvousOrder, VigilAgent } from "@vigil/agent";
import {
  type BusMessage,
  createMemoryBus,
  defaultStreams,
  EVENTS_STREAM,
  type MemoryBus,
  silentLogger,
} from "@vigil/common";
import { BusEventBatch } from "@vigil/proto";
import { serverConfigSchema, startVigilServer, type VigilServer } from "@vigil/server";
import { ConsulDouble } from "../doubles/consul-double";
import { ManualCollector } from "../harness/manual-collector";
import { freeLoopbackPort } from "../harness/nats-server";
import { waitFor } from "../harness/wait-for";

const TOKEN = "integration-test-token-0123456789";
const CONSUL_TOKEN = "consul-acl-secret-0000-1111-2222";
const AGENTS = 30;
const logger = silentLogger();

const host = {
  hostname: "it-host",
  osName: "Debian GNU/Linux",
  osVersion: "12",
  kernelRelease: "6.1.0",
  architecture: "x64",
  ipAddresses: [],
};

describe("consul discovery - agents ↔ servers through the Consul double", () => {
  let consul: ConsulDouble;
  let bus: MemoryBus;
  const servers = new Map<string, VigilServer>();
  const agents: Array<{ id: string; agent: VigilAgent; collector: ManualCollector }> = [];
  const seen = new Set<number>();
  let duplicates = 0;
  let emitted = 0;

  async function startServer(name: string, register: boolean): Promise<VigilServer> {
    const config = serverConfigSchema.parse({
      serverId: name,
      grpc: { port: await freeLoopbackPort(), agentToken: TOKEN, helloTimeoutMs: 2000 },
      api: { port: 0 },
      consul: {
        register,
        address: consul.url,
        token: CONSUL_TOKEN,
        checkTtlMs: 600,
      },
    });
    const server = await startVigilServer({ config, bus, logger });
    servers.set(name, server);
    return server;
  }

  function agentConfig(id: string): AgentConfig {
    return agentConfigSchema.parse({
      agentId: id,
      stateDir: mkdtempSync(join(tmpdir(), "vigil-it-disc-")),
      token: TOKEN,
      discovery: {
        mode: "consul",
        consul: { address: consul.url, token: CONSUL_TOKEN, waitMs: 30_000 },
        failedCooldownMs: 30_000,
        rebalanceMinMs: 3000,
        rebalanceMaxMs: 5000,
      },
      batch: { maxEvents: 5, flushIntervalMs: 20 },
      transport: { backoffInitialMs: 100, backoffMaxMs: 500, ackTimeoutMs: 3000, connectTimeoutMs: 2000 },
    });
  }

  const addressOf = (server: VigilServer) => `127.0.0.1:${server.grpcPort}`;
  const on = (server: VigilServer) =>
    agents
      .filter(({ agent }) => agent.serverSelector.currentServer() === addressOf(server))
      .map(({ id }) => id);
  const passing = (id: string) =>
    consul.instances().some((instance) => instance.id === id && instance.status === "passing");

  function emitFromAll(perAgent: number): void {
    for (const [index, { collector, agent }] of agents.entries()) {
      collector.emit(perAgent, 1_000_000 * (index + 1) + emitted);
      agent.flush();
    }
    emitted += perAgent;
  }

  beforeAll(async () => {
    consul = await ConsulDouble.start({ acl: { tokens: { [CONSUL_TOKEN]: "write" } } });
    bus = createMemoryBus();
    await bus.ensureStreams(defaultStreams());
    await bus.consume(
      { stream: EVENTS_STREAM, durable: "it-reader", maxInFlight: 100, ackWaitMs: 5000, maxDeliver: 5 },
      async (message: BusMessage) => {
        for (const event of BusEventBatch.decode(message.data).events) {
          const pid = event.process?.pid ?? -1;
          if (seen.has(pid)) duplicates++;
          seen.add(pid);
        }
        await message.ack();
      },
    );
  });

  afterAll(async () => {
    for (const { agent } of agents) await agent.stop(500);
    for (const server of servers.values()) await server.close(0).catch(() => undefined);
    await bus.close();
    await consul.stop();
  });

  test("servers register, agents spread, fail over within seconds, and a new server gets no herd", async () => {
    // A and C register themselves (HTTP check on /healthz); B is registered by
    // the test with a TTL check, so Consul keeps calling it healthy after its process dies.
    const a = await startServer("srv-a", true);
    const b = await startServer("srv-b", false);
    const c = await startServer("srv-c", true);
    consul.registerOn("node-1", {
      id: "vigil-server-srv-b",
      name: "vigil-server",
      port: b.grpcPort,
      address: "127.0.0.1",
    });
    const aId = a.consulRegistration?.id as string;
    const cId = c.consulRegistration?.id as string;
    expect(aId).toBe("vigil-server-srv-a");
    await waitFor(() => passing(aId) && passing(cId), 5000, "TTL checks of A and C passing");

    for (let i = 0; i < AGENTS; i++) {
      const id = `it-disc-${i}`;
      const collector = new ManualCollector();
      const agent = new VigilAgent({
        config: agentConfig(id),
        agentId: id,
        host,
        collectors: [collector],
        logger,
      });
      agents.push({ id, agent, collector });
    }
    await Promise.all(agents.map(({ agent }) => agent.start()));
    await waitFor(
      () => agents.every(({ agent }) => agent.link.isConnected()),
      10_000,
      "every agent connected",
    );

    // Spread: each agent on its rendezvous first choice; every server has some.
    const all = [a, b, c].map((server) => ({ address: addressOf(server), origin: "t" }));
    for (const { id, agent } of agents) {
      expect(agent.serverSelector.currentServer()).toBe(rendezvousOrder(id, all)[0].address);
    }
    for (const server of [a, b, c]) expect(on(server).length).toBeGreaterThan(0);
    emitFromAll(20);

    // A goes critical in Consul (the process still runs): its agents leave within seconds.
    const onA = on(a);
    const critical = Date.now();
    consul.setServiceHealth(aId, "critical", "test: bus down");
    emitFromAll(20);
    await waitFor(
      () => on(a).length === 0 && agents.every(({ agent }) => agent.link.isConnected()),
      5000,
      "agents off A",
    );
    const failoverMs = Date.now() - critical;
    expect(failoverMs).toBeLessThan(5000);
    for (const id of onA) {
      const agent = agents.find((entry) => entry.id === id)?.agent as VigilAgent;
      expect(agent.serverSelector.counters.failovers).toBe(1);
    }
    emitFromAll(20);

    // B's process dies without Consul noticing: its agents fail over on the broken stream.
    const onB = on(b);
    expect(onB.length).toBeGreaterThan(0);
    const died = Date.now();
    await b.close(0);
    servers.delete("srv-b");
    emitFromAll(20);
    await waitFor(
      () => on(b).length === 0 && agents.every(({ agent }) => agent.link.isConnected()),
      8000,
      "agents off B",
    );
    expect(Date.now() - died).toBeLessThan(8000);
    for (const id of onB) {
      const agent = agents.find((entry) => entry.id === id)?.agent as VigilAgent;
      expect(agent.serverSelector.currentServer()).toBe(addressOf(c)); // A is critical, B dead: C
    }
    consul.deregister("vigil-server-srv-b"); // as Consul would once B's check failed
    emitFromAll(20);

    // D is added: agents that now prefer D stay put for rebalanceMinMs (3 s), then move.
    const d = await startServer("srv-d", true);
    const dId = d.consulRegistration?.id as string;
    await waitFor(() => passing(dId), 5000, "D passing");
    const remaining = [c, d].map((server) => ({ address: addressOf(server), origin: "t" }));
    const preferD = agents
      .filter(({ id }) => rendezvousOrder(id, remaining)[0].address === addressOf(d))
      .map(({ id }) => id);
    expect(preferD.length).toBeGreaterThan(0);
    await waitFor(
      () =>
        agents.filter(({ agent }) => agent.serverSelector.counters.rebalancesScheduled > 0).length >=
        preferD.length,
      3000,
      "rebalances scheduled",
    );
    expect(on(d)).toEqual([]); // no herd at once
    emitFromAll(20);
    await waitFor(
      () => on(d).length === preferD.length,
      10_000,
      "the agents preferring D moved after their delay",
    );
    expect(on(d).sort()).toEqual([...preferD].sort());
    expect(on(c).length).toBe(AGENTS - preferD.length);
    emitFromAll(20);

    // Nothing lost, nothing doubled.
    const drained = await Promise.all(agents.map(({ agent }) => agent.link.whenDrained(10_000)));
    expect(drained.every(Boolean)).toBe(true);
    await waitFor(() => seen.size === emitted * AGENTS, 5000, `${emitted * AGENTS} events on the bus`);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(seen.size).toBe(emitted * AGENTS);
    expect(duplicates).toBe(0);

    // Shutdown deregisters: C and D leave Consul.
    await c.close(0);
    servers.delete("srv-c");
    expect(consul.instances().map((instance) => instance.id)).toEqual([aId, dId]);
  });
});
