import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type BusMessage,
  createMemoryBus,
  defaultStreams,
  EVENTS_STREAM,
  type MemoryBus,
  silentLogger,
} from "@vigil/common";
import { BusEventBatch, type CanonicalEvent, Event } from "@vigil/proto";
import { serverConfigSchema, startVigilServer, type VigilServer } from "@vigil/server";
import { execCatShadowAs } from "../fixtures/sample-events";
import { startTcpProxy, type TcpProxy } from "../harness/tcp-proxy";
import { killAllVigil, spawnVigil, type VigilProcess } from "../harness/vigil-process";
import { waitFor } from "../harness/wait-for";

// A network cut "for minutes", compressed: a loopback TCP proxy between a real
// `vigil agent` process and the server (real gRPC, in this process, on the
// in-process bus) blackholes the link — connections accepted, bytes dropped,
// nothing closed — so the agent only notices by its ack timeout, keeps
// collecting, and every batch waits in its disk spool (small segments, so the
// backlog spans many files). Then the link comes back (the cut connections
// die) and is dropped once more during the catch-up. Nothing may be lost or
// reordered. With a tiny spool.maxBytes the cut overflows the spool: fork
// events are evicted, counted, and the SpoolOverflow report reaches the server
// after the reconnect.

const TOKEN = "network-cut-agent-token-0123456789";
const logger = silentLogger();
const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

jest.setTimeout(120_000);

let work: string;
let bus: MemoryBus;
let server: VigilServer;
const proxies: TcpProxy[] = [];
/** Every event on the bus, by agent. */
const received = new Map<string, CanonicalEvent[]>();

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "vigil-network-cut-"));
  bus = createMemoryBus();
  await bus.ensureStreams(defaultStreams());
  await bus.consume(
    { stream: EVENTS_STREAM, durable: "network-cut-it", maxInFlight: 100, ackWaitMs: 10_000, maxDeliver: 5 },
    async (message: BusMessage) => {
      const batch = BusEventBatch.decode(message.data);
      const list = received.get(batch.agentId) ?? [];
      list.push(...batch.events);
      received.set(batch.agentId, list);
      await message.ack();
    },
  );
  server = await startVigilServer({
    config: serverConfigSchema.parse({
      serverId: "network-cut-server",
      grpc: { port: 0, agentToken: TOKEN, helloTimeoutMs: 2000, heartbeatIntervalMs: 1000 },
      api: { port: 0 },
    }),
    bus,
    logger,
  });
});
afterAll(async () => {
  await killAllVigil();
  for (const proxy of proxies) await proxy.close();
  await server?.close(0);
  await bus?.close();
  rmSync(work, { recursive: true, force: true });
});

const execLine = (pid: number) => JSON.stringify(Event.toJSON(execCatShadowAs(pid)));
const forkLine = (pid: number) =>
  JSON.stringify({
    timestampUs: 1_763_900_000_000_000 + pid,
    collector: "replay",
    process: { pid: 4100, ppid: 4000, name: "bash" },
    fork: { childPid: pid },
  });

function writeLines(name: string, lines: string[]): string {
  const file = join(work, name);
  writeFileSync(file, `${lines.join("\n")}\n`);
  return file;
}

function startAgent(agentId: string, port: number, file: string, env: Record<string, string>): VigilProcess {
  return spawnVigil(agentId, ["agent"], {
    VIGIL_AGENT_AGENT_ID: agentId,
    VIGIL_AGENT_SERVERS: `127.0.0.1:${port}`,
    VIGIL_AGENT_TOKEN: TOKEN,
    VIGIL_AGENT_STATE_DIR: join(work, agentId),
    VIGIL_AGENT_COLLECTORS: "replay",
    VIGIL_AGENT_REPLAY__FILES: file,
    VIGIL_AGENT_BATCH__MAX_EVENTS: "50",
    VIGIL_AGENT_BATCH__FLUSH_INTERVAL_MS: "20",
    VIGIL_AGENT_TRANSPORT__ACK_TIMEOUT_MS: "1000",
    VIGIL_AGENT_TRANSPORT__CONNECT_TIMEOUT_MS: "1000",
    VIGIL_AGENT_TRANSPORT__BACKOFF_INITIAL_MS: "50",
    VIGIL_AGENT_TRANSPORT__BACKOFF_MAX_MS: "500",
    VIGIL_AGENT_SPOOL__FSYNC: "interval",
    VIGIL_AGENT_LOG_LEVEL: "warn",
    ...env,
  });
}

const pidsOf = (agentId: string) => (received.get(agentId) ?? []).map((event) => event.process?.pid ?? -1);
const segments = (agentId: string) =>
  readdirSync(join(work, agentId, "spool")).filter((name) => name.endsWith(".seg")).length;

describe("network cut - a blackholed link between agent and server", () => {
  test("a long cut: the backlog waits in the spool, then arrives whole and in order", async () => {
    const agentId = "cut-agent";
    const events = 30_000;
    const proxy = await startTcpProxy(server.grpcPort);
    proxies.push(proxy);
    const file = writeLines(
      "cut.jsonl",
      Array.from({ length: events }, (_, i) => execLine(100_000 + i)),
    );
    // 5000 events/s: 6 s of collecting, most of it during the cut.
    const agent = startAgent(agentId, proxy.port, file, {
      VIGIL_AGENT_REPLAY__RATE: "5000",
      VIGIL_AGENT_SPOOL__SEGMENT_BYTES: String(64 * 1024),
    });
    await waitFor(() => pidsOf(agentId).length >= 2000, 30_000, "the first events through the proxy");

    proxy.blackhole();
    await sleep(300); // what was already past the proxy lands
    const beforeCut = pidsOf(agentId).length;
    await sleep(4500);
    expect(pidsOf(agentId).length).toBe(beforeCut); // nothing gets through the cut
    expect(agent.isRunning()).toBe(true);
    const backlogSegments = segments(agentId);
    expect(backlogSegments).toBeGreaterThanOrEqual(10); // MiBs of batches, spread over many files

    proxy.restore();
    await waitFor(() => pidsOf(agentId).length >= beforeCut + 2000, 30_000, "catch-up after the cut");
    proxy.dropConnections(); // and once more while it catches up
    await waitFor(
      () => pidsOf(agentId).length >= events,
      60_000,
      `all ${events} events after the cut (agent log:\n${agent.output().slice(-2000)})`,
    );
    await sleep(500); // anything doubled would show up by now
    expect(pidsOf(agentId)).toEqual(Array.from({ length: events }, (_, i) => 100_000 + i));
    await waitFor(() => segments(agentId) <= 1, 10_000, "acked segments deleted");
    expect(await agent.stop()).toEqual({ code: 0, signal: null });
  });

  test("a cut past spool.maxBytes: forks are evicted, counted, and the SpoolOverflow report arrives", async () => {
    const agentId = "overflow-agent";
    const proxy = await startTcpProxy(server.grpcPort);
    proxies.push(proxy);
    // 200 execs among 6000 forks, all collected while the link is cut.
    const lines: string[] = [];
    const execs: number[] = [];
    const forks = 6000;
    for (let i = 0; i < forks; i++) {
      if (i % 30 === 0) {
        execs.push(200_000 + i);
        lines.push(execLine(200_000 + i));
      }
      lines.push(forkLine(300_000 + i));
    }
    proxy.blackhole();
    const agent = startAgent(agentId, proxy.port, writeLines("overflow.jsonl", lines), {
      VIGIL_AGENT_SPOOL__SEGMENT_BYTES: String(32 * 1024),
      VIGIL_AGENT_SPOOL__MAX_BYTES: String(256 * 1024),
    });
    await waitFor(
      () => agent.output().includes("spool bound reached"),
      30_000,
      `the spool to overflow (agent log:\n${agent.output().slice(-2000)})`,
    );
    await sleep(2000); // the replay ends while the link is still cut
    expect(received.get(agentId)).toBeUndefined();

    proxy.restore();
    const overflowReports = () =>
      (received.get(agentId) ?? []).filter((event) => event.event?.action === "spool-overflow");
    await waitFor(
      () =>
        execs.every((pid) => pidsOf(agentId).includes(pid)) &&
        overflowReports().length > 0 &&
        (server.registry.get(agentId)?.counters?.droppedByReason?.spoolOverflow ?? 0) > 0,
      30_000,
      "every exec, the overflow report and the heartbeat's loss count",
    );
    await sleep(1500); // the last heartbeat and anything doubled

    const all = received.get(agentId) ?? [];
    const execsIn = all.filter((event) => event.event?.action === "exec").map((event) => event.process?.pid);
    const forksIn = all.filter((event) => event.event?.action === "fork").length;
    expect(execsIn).toEqual(execs); // every high-priority event, once, in order
    let lostForks = 0;
    let lostOther = 0;
    let lost = 0;
    for (const report of overflowReports()) {
      lost += Number(report.vigil.events_lost);
      for (const [key, value] of Object.entries(report.vigil)) {
        if (key === "lost.low-priority.fork") lostForks += Number(value);
        else if (key.startsWith("lost.")) lostOther += Number(value);
      }
    }
    expect(lostForks).toBeGreaterThan(0);
    expect(lostOther).toBe(0);
    expect(lost).toBe(lostForks);
    expect(forksIn + lostForks).toBe(forks); // what did not arrive is counted, nothing else is missing
    expect(server.registry.get(agentId)?.counters?.droppedByReason?.spoolOverflow).toBe(lostForks);
    expect(await agent.stop()).toEqual({ code: 0, signal: null });
  });
});
