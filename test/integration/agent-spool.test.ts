import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import {
  type Bus,
  type BusMessage,
  createMemoryBus,
  defaultStreams,
  EVENTS_STREAM,
  type MemoryBus,
  silentLogger,
} from "@vigil/common";
import { BusEventBatch } from "@vigil/proto";
import { serverConfigSchema, startVigilServer, type VigilServer } from "@vigil/server";
import { writeExecReplayFile } from "../fixtures/sample-events";
import { freeLoopbackPort } from "../harness/nats-server";
import { waitFor } from "../harness/wait-for";

// The agent as a real process (`vigil agent`, replay collector, on-disk spool)
// killed with SIGKILL mid-stream and while the server is down; the server real
// over gRPC, in this process, publishing to an in-process bus slowed down so
// the agent has a backlog. Every event the agent spooled reaches the bus
// exactly once.

const ROOT = resolve(__dirname, "..", "..");
const CLI = join(ROOT, "cli", "dist", "main.js");
const TOKEN = "spool-integration-token-0123456789";
const AGENT_ID = "spool-it-agent";
const logger = silentLogger();

jest.setTimeout(90_000);

let work: string;
const children: ChildProcess[] = [];

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "vigil-spool-it-"));
});
afterAll(() => {
  for (const child of children)
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  rmSync(work, { recursive: true, force: true });
});

/** A replay file of exec events with pids first..first+count-1. */
function replayFile(name: string, first: number, count: number): string {
  return writeExecReplayFile(join(work, name), first, count);
}

/** A bus whose publishes take `delayMs`: a slow server tier. */
function slowBus(inner: MemoryBus, delayMs: number): Bus {
  return new Proxy(inner, {
    get(target, property, receiver) {
      if (property === "publish") {
        return async (...args: Parameters<Bus["publish"]>) => {
          await new Promise((done) => setTimeout(done, delayMs));
          return target.publish(...args);
        };
      }
      const value = Reflect.get(target, property, receiver);
      return typeof value === "function" ? value.bind(target) : value;
    },
  }) as Bus;
}

async function startServer(bus: Bus, port: number): Promise<VigilServer> {
  const config = serverConfigSchema.parse({
    serverId: "spool-it-server",
    grpc: { port, agentToken: TOKEN, helloTimeoutMs: 2000 },
    api: { port: 0 },
  });
  return startVigilServer({ config, bus, logger });
}

function startAgent(port: number, stateDir: string, file: string): ChildProcess {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) if (!name.startsWith("VIGIL_")) env[name] = value;
  const child = spawn(process.execPath, [CLI, "agent"], {
    cwd: ROOT,
    stdio: ["ignore", "ignore", "pipe"],
    env: {
      ...env,
      VIGIL_AGENT_AGENT_ID: AGENT_ID,
      VIGIL_AGENT_SERVERS: `127.0.0.1:${port}`,
      VIGIL_AGENT_TOKEN: TOKEN,
      VIGIL_AGENT_STATE_DIR: stateDir,
      VIGIL_AGENT_COLLECTORS: "replay",
      VIGIL_AGENT_REPLAY__FILES: file,
      VIGIL_AGENT_BATCH__MAX_EVENTS: "10",
      VIGIL_AGENT_BATCH__FLUSH_INTERVAL_MS: "20",
      VIGIL_AGENT_TRANSPORT__BACKOFF_INITIAL_MS: "50",
      VIGIL_AGENT_TRANSPORT__BACKOFF_MAX_MS: "300",
      VIGIL_AGENT_SPOOL__FSYNC: "interval",
      VIGIL_AGENT_LOG_LEVEL: "warn",
    },
  });
  child.stderr?.resume();
  children.push(child);
  return child;
}

async function kill9(child: ChildProcess): Promise<void> {
  const exited = new Promise((done) => child.once("exit", done));
  child.kill("SIGKILL");
  await exited;
}

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));
const range = (first: number, count: number) => Array.from({ length: count }, (_, i) => first + i);

describe("agent spool - kill -9 and server outages lose nothing", () => {
  test("agent killed mid-stream, server down, agent killed again while it is down: every event arrives once", async () => {
    const bus = createMemoryBus();
    await bus.ensureStreams(defaultStreams());
    const pids: number[] = [];
    await bus.consume(
      { stream: EVENTS_STREAM, durable: "spool-it", maxInFlight: 100, ackWaitMs: 5000, maxDeliver: 5 },
      async (message: BusMessage) => {
        for (const event of BusEventBatch.decode(message.data).events) pids.push(event.process?.pid ?? -1);
        await message.ack();
      },
    );
    const port = await freeLoopbackPort();
    const stateDir = join(work, "agent-state");
    const fileA = replayFile("a.jsonl", 100_000, 3000);
    const fileB = replayFile("b.jsonl", 200_000, 1000);
    const fileC = replayFile("c.jsonl", 300_000, 200);

    // 1. A slow server (10 ms per batch): 300 batches take ~3 s. Kill -9 the
    //    agent once part of them reached the bus; the replay itself took well
    //    under a second, so the rest is in the spool.
    let server = await startServer(slowBus(bus, 10), port);
    let agent = startAgent(port, stateDir, fileA);
    await waitFor(() => pids.length >= 600, 20_000, "first events of run 1 on the bus");
    await kill9(agent);
    const afterKill = pids.length;
    expect(afterKill).toBeLessThan(3000);

    // 2. Server down. The agent restarts, spools run 2's events, cannot send,
    //    and is killed again.
    await server.close(0);
    await sleep(300); // publishes the server had under way finish
    const whileDown = pids.length;
    agent = startAgent(port, stateDir, fileB);
    await sleep(2500);
    expect(pids.length).toBe(whileDown);
    await kill9(agent);

    // 3. Server back (fast now); the agent restarts with run 3's events and
    //    resends everything unacked, in order.
    server = await startServer(bus, port);
    agent = startAgent(port, stateDir, fileC);
    await waitFor(() => pids.length >= 4200, 30_000, "all 4200 events on the bus");
    await sleep(500); // anything doubled would show up by now
    expect(pids).toHaveLength(4200);
    expect([...pids].sort((a, b) => a - b)).toEqual([
      ...range(100_000, 3000),
      ...range(200_000, 1000),
      ...range(300_000, 200),
    ]);
    // In order: each run's events arrive in the order they were collected.
    for (const first of [100_000, 200_000, 300_000]) {
      const run = pids.filter((pid) => pid >= first && pid < first + 100_000);
      expect(run).toEqual([...run].sort((a, b) => a - b));
    }
    expect(server.registry.get(AGENT_ID)).toMatchObject({ eventsReceived: expect.any(Number) });

    const exited = new Promise((done) => agent.once("exit", done));
    agent.kill("SIGTERM");
    await exited;
    await server.close();
    await bus.close();
  });
});
