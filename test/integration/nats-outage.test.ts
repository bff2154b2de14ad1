import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Bus, connectNatsBus, EVENTS_STREAM, silentLogger } from "@vigil/common";
import { BusEventBatch } from "@vigil/proto";
import { serverConfigSchema, startVigilServer, type VigilServer } from "@vigil/server";
import { writeExecReplayFile } from "../fixtures/sample-events";
import { type NatsServerHandle, startNatsServer } from "../harness/nats-server";
import { killAllVigil, spawnVigil, type VigilProcess } from "../harness/vigil-process";
import { waitFor } from "../harness/wait-for";

// NATS killed (-9) under load and restarted on the same store: three real
// `vigil agent` processes replay exec events into a server (real gRPC, in this
// process so its gauges can be sampled) whose bus is a real nats-server -js.
// While NATS is down the server acks nothing, stops reading (its in-flight
// gauges stay under their bounds) and reports itself unhealthy; the agents
// keep collecting into their spools. After the restart every event must be in
// the JetStream stream exactly once, in the order each agent collected them.

const TOKEN = "nats-outage-agent-token-0123456789";
const AGENTS = ["outage-agent-1", "outage-agent-2", "outage-agent-3"];
const EVENTS = 6000; // per agent
const RATE = 2000; // events/s per agent: ~3 s of replay, the outage lands in the middle
const MAX_PENDING = 8;
const MAX_IN_FLIGHT = 1024 * 1024;
const logger = silentLogger();

jest.setTimeout(180_000);

let work: string;
let nats: NatsServerHandle;
let bus: Bus;
let server: VigilServer;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "vigil-ingest-outage-"));
  nats = await startNatsServer();
  bus = await connectNatsBus({ servers: [nats.url], name: "outage-server", logger, requestTimeoutMs: 1000 });
  server = await startVigilServer({
    config: serverConfigSchema.parse({
      serverId: "outage-server",
      grpc: {
        port: 0,
        agentToken: TOKEN,
        maxPendingMessagesPerStream: MAX_PENDING,
        maxInFlightBytes: MAX_IN_FLIGHT,
      },
      api: { port: 0, metricsPublic: true },
    }),
    bus,
    logger,
  });
});
afterAll(async () => {
  await killAllVigil();
  await server?.close(0);
  await bus?.close();
  await nats?.stop();
  rmSync(work, { recursive: true, force: true });
});

async function metric(name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${server.apiPort}/metrics`)).text();
  const line = text.split("\n").find((candidate) => candidate.startsWith(`${name}{`));
  return line ? Number(line.slice(line.lastIndexOf(" ") + 1)) : 0;
}

function startAgent(agentId: string, firstPid: number): VigilProcess {
  const file = writeExecReplayFile(join(work, `${agentId}.jsonl`), firstPid, EVENTS);
  return spawnVigil(agentId, ["agent"], {
    VIGIL_AGENT_AGENT_ID: agentId,
    VIGIL_AGENT_SERVERS: `127.0.0.1:${server.grpcPort}`,
    VIGIL_AGENT_TOKEN: TOKEN,
    VIGIL_AGENT_STATE_DIR: join(work, agentId),
    VIGIL_AGENT_COLLECTORS: "replay",
    VIGIL_AGENT_REPLAY__FILES: file,
    VIGIL_AGENT_REPLAY__RATE: String(RATE),
    VIGIL_AGENT_BATCH__MAX_EVENTS: "50",
    VIGIL_AGENT_BATCH__FLUSH_INTERVAL_MS: "20",
    VIGIL_AGENT_TRANSPORT__ACK_TIMEOUT_MS: "3000",
    VIGIL_AGENT_TRANSPORT__BACKOFF_INITIAL_MS: "100",
    VIGIL_AGENT_TRANSPORT__BACKOFF_MAX_MS: "1000",
    VIGIL_AGENT_LOG_LEVEL: "warn",
  });
}

/** Every message of the events stream as stored: agent, batch sequence, event pids. */
async function storedBatches(reader: Bus) {
  const batches: Array<{ agentId: string; sequence: number; pids: number[] }> = [];
  for (let startSeq = 1; ; ) {
    const page = await reader.readStream(EVENTS_STREAM, { startSeq, limit: 10_000 });
    for (const message of page) {
      const batch = BusEventBatch.decode(message.data);
      batches.push({
        agentId: batch.agentId,
        sequence: batch.sequence,
        pids: batch.events.map((event) => event.process?.pid ?? -1),
      });
    }
    if (page.length === 0) return batches;
    startSeq = page[page.length - 1].seq + 1;
  }
}

describe("NATS outage under load - nothing lost, nothing twice, memory bounded", () => {
  test("NATS killed -9 and restarted: the server stops acking and reading, then every event is stored once", async () => {
    const agents = AGENTS.map((agentId, index) => startAgent(agentId, 1_000_000 * (index + 1)));
    await waitFor(
      async () => (await metric("vigil_server_events_total")) >= (AGENTS.length * EVENTS) / 5,
      30_000,
      "a fifth of the events published",
    );
    await nats.kill9();
    const eventsAtKill = await metric("vigil_server_events_total");
    await waitFor(() => !server.health().healthy, 10_000, "the server reporting its bus down");

    // Three seconds of outage with the agents still collecting: sample the server's gauges.
    let maxPending = 0;
    let maxBytes = 0;
    for (const until = Date.now() + 3000; Date.now() < until; ) {
      maxPending = Math.max(maxPending, await metric("vigil_server_acks_pending"));
      maxBytes = Math.max(maxBytes, await metric("vigil_server_in_flight_bytes"));
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    // Batches were read and held unacked (the agents kept sending), within the per-stream bound.
    expect(maxPending).toBeGreaterThan(0);
    expect(maxPending).toBeLessThanOrEqual(AGENTS.length * MAX_PENDING);
    expect(maxBytes).toBeLessThanOrEqual(MAX_IN_FLIGHT);
    // Nothing was published (so nothing acked) while the bus was gone.
    expect(await metric("vigil_server_events_total")).toBe(eventsAtKill);
    for (const agent of agents) expect(agent.isRunning()).toBe(true);

    await nats.restart();
    await waitFor(() => server.health().healthy, 20_000, "the bus back");
    await waitFor(
      async () => (await metric("vigil_server_events_total")) >= AGENTS.length * EVENTS,
      90_000,
      `all events published (agent log:\n${agents[0].output().slice(-2000)})`,
    );
    await new Promise((resolve) => setTimeout(resolve, 1000)); // a resend stored twice would show by now

    const reader = await connectNatsBus({ servers: [nats.url], name: "outage-reader", logger });
    try {
      const batches = await storedBatches(reader);
      // Each (agent, sequence) once: a batch resent after the outage was not stored again.
      const ids = batches.map((batch) => `${batch.agentId}/${batch.sequence}`);
      expect(new Set(ids).size).toBe(batches.length);
      for (const [index, agentId] of AGENTS.entries()) {
        const pids = batches.filter((batch) => batch.agentId === agentId).flatMap((batch) => batch.pids);
        expect(pids).toEqual(Array.from({ length: EVENTS }, (_, i) => 1_000_000 * (index + 1) + i));
      }
    } finally {
      await reader.close();
    }
    for (const agent of agents) expect(await agent.stop()).toEqual({ code: 0, signal: null });
  });
});
