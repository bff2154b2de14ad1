import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Bus, connectNatsBus, EVENTS_STREAM, silentLogger } from "@vigil/common";
import { BusEventBatch } from "@vigil/proto";
import { ConsulDouble } from "../doubles/consul-double";
import { writeExecReplayFile } from "../fixtures/sample-events";
import { freeLoopbackPort, type NatsServerHandle, startNatsServer } from "../harness/nats-server";
import { httpOk, killAllVigil, spawnVigil, type VigilProcess } from "../harness/vigil-process";
import { waitFor } from "../harness/wait-for";

// Two `vigil server` processes registered in the Consul double with TTL
// checks, one real nats-server, six `vigil agent` processes finding servers
// through Consul and replaying exec events at a steady rate. Server A is
// killed -9 with agents attached: they fail over to B. A comes back; B is then
// stopped with SIGTERM: it deregisters, tells its agents to move (drain),
// finishes what is in flight and exits 0, and the agents land on A. Every
// event must be in the JetStream stream exactly once, in collection order.

const TOKEN = "failover-agent-token-0123456789";
const AGENTS = Array.from({ length: 6 }, (_, i) => `failover-agent-${i + 1}`);
const EVENTS = 8000; // per agent
const RATE = 1000; // events/s per agent: ~8 s of replay spans the kill and the drain
const logger = silentLogger();

jest.setTimeout(180_000);

let work: string;
let nats: NatsServerHandle;
let consul: ConsulDouble;
let reader: Bus | undefined;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "vigil-ingest-failover-"));
  nats = await startNatsServer();
  consul = await ConsulDouble.start();
});
afterAll(async () => {
  await killAllVigil();
  await reader?.close();
  await consul?.stop();
  await nats?.stop();
  rmSync(work, { recursive: true, force: true });
});

interface ServerPorts {
  name: string;
  grpc: number;
  api: number;
}

function startServer(ports: ServerPorts): VigilProcess {
  return spawnVigil(ports.name, ["server"], {
    VIGIL_SERVER_SERVER_ID: ports.name,
    VIGIL_SERVER_NATS__SERVERS: nats.url,
    VIGIL_SERVER_GRPC__PORT: String(ports.grpc),
    VIGIL_SERVER_GRPC__AGENT_TOKEN: TOKEN,
    VIGIL_SERVER_GRPC__DRAIN_RECONNECT_WITHIN_MS: "500",
    VIGIL_SERVER_API__PORT: String(ports.api),
    VIGIL_SERVER_API__METRICS_PUBLIC: "true",
    VIGIL_SERVER_CONSUL__REGISTER: "true",
    VIGIL_SERVER_CONSUL__ADDRESS: consul.url,
    VIGIL_SERVER_CONSUL__CHECK_TTL_MS: "1500",
    VIGIL_SERVER_LOG_LEVEL: "info",
  });
}

function startAgent(agentId: string, firstPid: number): VigilProcess {
  const file = writeExecReplayFile(join(work, `${agentId}.jsonl`), firstPid, EVENTS);
  return spawnVigil(agentId, ["agent"], {
    VIGIL_AGENT_AGENT_ID: agentId,
    VIGIL_AGENT_TOKEN: TOKEN,
    VIGIL_AGENT_STATE_DIR: join(work, agentId),
    VIGIL_AGENT_DISCOVERY__MODE: "consul",
    VIGIL_AGENT_DISCOVERY__CONSUL__ADDRESS: consul.url,
    VIGIL_AGENT_DISCOVERY__CONSUL__WAIT_MS: "30000",
    VIGIL_AGENT_COLLECTORS: "replay",
    VIGIL_AGENT_REPLAY__FILES: file,
    VIGIL_AGENT_REPLAY__RATE: String(RATE),
    VIGIL_AGENT_BATCH__MAX_EVENTS: "50",
    VIGIL_AGENT_BATCH__FLUSH_INTERVAL_MS: "20",
    VIGIL_AGENT_TRANSPORT__ACK_TIMEOUT_MS: "3000",
    VIGIL_AGENT_TRANSPORT__CONNECT_TIMEOUT_MS: "2000",
    VIGIL_AGENT_TRANSPORT__BACKOFF_INITIAL_MS: "100",
    VIGIL_AGENT_TRANSPORT__BACKOFF_MAX_MS: "1000",
    VIGIL_AGENT_LOG_LEVEL: "info",
  });
}

/** A gauge or counter from a server's /metrics (undefined while it does not answer). */
async function metric(ports: ServerPorts, name: string): Promise<number | undefined> {
  try {
    const response = await fetch(`http://127.0.0.1:${ports.api}/metrics`, {
      signal: AbortSignal.timeout(2000),
    });
    const line = (await response.text()).split("\n").find((candidate) => candidate.startsWith(`${name}{`));
    return line ? Number(line.slice(line.lastIndexOf(" ") + 1)) : 0;
  } catch {
    return undefined;
  }
}
const streams = async (ports: ServerPorts) => (await metric(ports, "vigil_server_agent_streams")) ?? 0;

async function whenServing(server: VigilProcess, ports: ServerPorts): Promise<void> {
  await waitFor(
    async () => {
      if (!server.isRunning()) throw new Error(`${ports.name} exited:\n${server.output()}`);
      return (
        (await httpOk(`http://127.0.0.1:${ports.api}/healthz`)) &&
        consul
          .instances()
          .some((instance) => instance.id.endsWith(ports.name) && instance.status === "passing")
      );
    },
    20_000,
    `${ports.name} serving and passing in Consul`,
  );
}

/** Events of each agent as stored in the stream, and whether any (agent, sequence) is there twice. */
async function storedEvents(): Promise<{ pids: Map<string, number[]>; batches: number; unique: number }> {
  reader ??= await connectNatsBus({ servers: [nats.url], name: "failover-reader", logger });
  const pids = new Map<string, number[]>();
  const ids = new Set<string>();
  let batches = 0;
  for (let startSeq = 1; ; ) {
    const page = await reader.readStream(EVENTS_STREAM, { startSeq, limit: 10_000 });
    if (page.length === 0) break;
    for (const message of page) {
      const batch = BusEventBatch.decode(message.data);
      batches++;
      ids.add(`${batch.agentId}/${batch.sequence}`);
      const list = pids.get(batch.agentId) ?? [];
      for (const event of batch.events) list.push(event.process?.pid ?? -1);
      pids.set(batch.agentId, list);
    }
    startSeq = page[page.length - 1].seq + 1;
  }
  return { pids, batches, unique: ids.size };
}

describe("server failover - kill -9 and drain with agents attached, nothing lost", () => {
  test("agents fail over from a killed server, move off a draining one, and every event is stored once", async () => {
    const a: ServerPorts = {
      name: "failover-a",
      grpc: await freeLoopbackPort(),
      api: await freeLoopbackPort(),
    };
    const b: ServerPorts = {
      name: "failover-b",
      grpc: await freeLoopbackPort(),
      api: await freeLoopbackPort(),
    };
    let serverA = startServer(a);
    const serverB = startServer(b);
    await whenServing(serverA, a);
    await whenServing(serverB, b);

    const agents = AGENTS.map((agentId, index) => startAgent(agentId, 1_000_000 * (index + 1)));
    // Rendezvous spreads six agents over both (each server gets some with near certainty; not required).
    await waitFor(
      async () => (await streams(a)) + (await streams(b)) === AGENTS.length,
      20_000,
      "every agent connected",
    );
    const published = async () =>
      ((await metric(a, "vigil_server_events_total")) ?? 0) +
      ((await metric(b, "vigil_server_events_total")) ?? 0);
    await waitFor(
      async () => (await published()) >= (AGENTS.length * EVENTS) / 5,
      30_000,
      "a fifth published",
    );

    // kill -9 of A with its agents attached: they fail over to B.
    await serverA.kill9();
    await waitFor(async () => (await streams(b)) === AGENTS.length, 20_000, "every agent on B");

    // A back; then B drains on SIGTERM: its agents are told to move and land on A.
    serverA = startServer(a);
    await whenServing(serverA, a);
    const stopped = serverB.stop(20_000);
    await waitFor(
      async () => (await streams(a)) === AGENTS.length,
      20_000,
      "every agent on A after B's drain",
    );
    expect(await stopped).toEqual({ code: 0, signal: null });
    expect(serverB.output()).toMatch(/"agents":6,.*"msg":"draining: agents told to move"/);
    expect(consul.instances().map((instance) => instance.id)).toEqual([
      expect.stringContaining("failover-a"),
    ]);
    const drainedAgents = agents.filter((agent) => agent.output().includes("server is draining"));
    expect(drainedAgents).toHaveLength(AGENTS.length);

    // Everything collected reaches the stream once, in order.
    const storedCount = async () => {
      const { pids } = await storedEvents();
      return [...pids.values()].reduce((sum, list) => sum + list.length, 0);
    };
    await waitFor(async () => (await storedCount()) >= AGENTS.length * EVENTS, 60_000, "every event stored");
    await new Promise((resolve) => setTimeout(resolve, 1000)); // a batch stored twice would show by now
    const stored = await storedEvents();
    expect(stored.unique).toBe(stored.batches);
    for (const [index, agentId] of AGENTS.entries()) {
      expect(stored.pids.get(agentId)).toEqual(
        Array.from({ length: EVENTS }, (_, i) => 1_000_000 * (index + 1) + i),
      );
    }
    for (const agent of agents) expect(await agent.stop()).toEqual({ code: 0, signal: null });
    expect(await serverA.stop()).toEqual({ code: 0, signal: null });
  });
});
