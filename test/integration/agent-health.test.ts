import { type ChildProcess, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { agentConfigSchema, type Collector, type EventSink, ReplayCollector, startAgent } from "@vigil/agent";
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
import { EXEC_CAT_SHADOW, execCatShadowAs, writeExecReplayFile } from "../fixtures/sample-events";
import { freeLoopbackPort } from "../harness/nats-server";
import { waitFor } from "../harness/wait-for";

// Agent self-restraint and health end to end: the agent in this process (and
// once as a real `vigil agent` process for SIGTERM) against a real server over
// gRPC. Heartbeat fields at /api/v1/agents, a collector restarted by the
// watchdog, live batch/log settings, the governor shedding and restoring, every
// task kind on real processes and files, and a SIGTERM that loses nothing.

const ROOT = resolve(__dirname, "..", "..");
const CLI = join(ROOT, "cli", "dist", "main.js");
const TOKEN = "health-integration-token-0123456789";
const logger = silentLogger();
jest.setTimeout(60_000);

let work: string;
let bus: MemoryBus;
let server: VigilServer;
const children: ChildProcess[] = [];
const stops: Array<() => Promise<unknown>> = [];
const delivered: CanonicalEvent[] = [];

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "vigil-health-it-"));
  bus = createMemoryBus();
  await bus.ensureStreams(defaultStreams());
  await bus.consume(
    { stream: EVENTS_STREAM, durable: "health-it", maxInFlight: 100, ackWaitMs: 5000, maxDeliver: 5 },
    async (message: BusMessage) => {
      for (const event of BusEventBatch.decode(message.data).events) delivered.push(event);
      await message.ack();
    },
  );
  server = await startVigilServer({
    config: serverConfigSchema.parse({
      serverId: "health-server",
      grpc: { port: await freeLoopbackPort(), agentToken: TOKEN, heartbeatIntervalMs: 1000 },
      api: { port: 0 },
    }),
    bus,
    logger,
  });
});
afterAll(async () => {
  for (const stop of stops) await stop();
  for (const child of children)
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  await server.close(0);
  await bus.close();
  rmSync(work, { recursive: true, force: true });
});

function agentConfig(agentId: string, extra: Record<string, unknown> = {}) {
  const stateDir = mkdtempSync(join(work, `${agentId}-`));
  return agentConfigSchema.parse({
    agentId,
    stateDir,
    servers: [`127.0.0.1:${server.grpcPort}`],
    token: TOKEN,
    collectors: ["procfs"],
    transport: { backoffInitialMs: 50, backoffMaxMs: 200 },
    spool: { mode: "memory" },
    watchdog: { intervalMs: 50, backoffInitialMs: 20, backoffMaxMs: 100 },
    ...extra,
  });
}

/** A collector whose health turns bad once, after its first start (its "read loop threw"). */
class FlakyCollector implements Collector {
  readonly name = "flaky";
  starts = 0;
  private broken = false;
  async start(sink: EventSink): Promise<void> {
    this.starts++;
    this.broken = this.starts === 1;
    sink({ ...EXEC_CAT_SHADOW, collector: "flaky", timestampUs: Date.now() * 1000 });
  }
  async stop(): Promise<void> {}
  stats(): Record<string, number> {
    return { starts: this.starts };
  }
  health() {
    return this.broken ? { ok: false as const, error: "read loop threw: boom" } : { ok: true as const };
  }
}

interface AgentView {
  agentId: string;
  counters?: {
    agentVersion: string;
    collectors: Array<{ name: string; state: string; lastError: string; restarts: number }>;
    eventsPerSecond: Record<string, number>;
    spoolBytes: number;
    oldestUnackedAgeMs: number;
    governor?: { cpuLimitPercent: number; rssLimitBytes: number; shedding: boolean };
    lastError: string;
    cpuPercent: number;
    rssBytes: number;
    tasks: Record<string, number>;
    config?: { appliedVersion: number };
  };
}

async function agentView(agentId: string): Promise<AgentView | undefined> {
  const body = (await (await fetch(`http://127.0.0.1:${server.apiPort}/api/v1/agents`)).json()) as {
    agents: AgentView[];
  };
  return body.agents.find((agent) => agent.agentId === agentId);
}

/** One agent's part of a task (GET /api/v1/tasks/:id results). */
interface TaskView {
  agentId: string;
  state: string;
  output?: unknown;
  error?: string;
}

async function runTask(agentId: string, kind: string, params: Record<string, string>): Promise<TaskView> {
  const created = await fetch(`http://127.0.0.1:${server.apiPort}/api/v1/agents/${agentId}/tasks`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ kind, params }),
  });
  expect(created.status).toBe(202);
  const { taskId } = (await created.json()) as { taskId: string };
  let view: TaskView | undefined;
  await waitFor(
    async () => {
      const task = (await (
        await fetch(`http://127.0.0.1:${server.apiPort}/api/v1/tasks/${taskId}`)
      ).json()) as { results: { items: TaskView[] } };
      view = task.results.items[0];
      return view?.state === "succeeded" || view?.state === "failed";
    },
    10_000,
    `task ${kind} finished`,
  );
  return view as TaskView;
}

describe("agent health - heartbeats, watchdog, live settings, tasks over real gRPC", () => {
  test("heartbeat fields reach /api/v1/agents; the watchdog restarts a collector whose loop threw", async () => {
    const flaky = new FlakyCollector();
    const running = await startAgent(agentConfig("health-hb"), logger, [flaky]);
    stops.push(() => running.stop(500));
    await waitFor(
      async () => ((await agentView("health-hb"))?.counters?.collectors[0]?.restarts ?? 0) >= 1,
      10_000,
      "a heartbeat reporting the restart",
    );
    const counters = (await agentView("health-hb"))?.counters;
    expect(counters?.agentVersion).toMatch(/^\d+\.\d+\.\d+/);
    expect(counters?.collectors).toEqual([
      expect.objectContaining({
        name: "flaky",
        state: "running",
        lastError: "read loop threw: boom",
        restarts: 1,
      }),
    ]);
    expect(counters?.lastError).toBe("collector flaky: read loop threw: boom");
    expect(counters?.governor).toMatchObject({ cpuLimitPercent: 40, rssLimitBytes: 384 * 1024 * 1024 });
    expect(counters?.rssBytes).toBeGreaterThan(0);
    expect(typeof counters?.spoolBytes).toBe("number");
    expect(typeof counters?.oldestUnackedAgeMs).toBe("number");
    expect(flaky.starts).toBe(2);
  });

  test("live batch and log.level settings apply; a bad value is rejected naming the key", async () => {
    const running = await startAgent(agentConfig("health-live"), logger, [new FlakyCollector()]);
    stops.push(() => running.stop(500));
    await waitFor(() => server.registry.get("health-live")?.online === true, 10_000, "agent connected");
    expect(running.agent.runtimeSettings()).toMatchObject({ batch: { maxEvents: 1000 }, logLevel: "silent" });
    const { version } = await server.setAgentPolicy({
      batch: { maxEvents: 7, flushIntervalMs: 30 },
      limits: { cpuPercent: 80 },
      log: { level: "debug" },
    });
    await waitFor(
      () => running.agent.counters().config?.appliedVersion === version,
      10_000,
      "the live update applied",
    );
    expect(running.agent.runtimeSettings()).toEqual({
      batch: { maxEvents: 7, flushIntervalMs: 30 },
      limits: { cpuPercent: 80, rssBytes: 384 * 1024 * 1024 },
      logLevel: "debug",
    });
    // An update without the keys reverts to the local config.
    const reverted = (await server.setAgentPolicy({})).version;
    await waitFor(
      () => running.agent.counters().config?.appliedVersion === reverted,
      10_000,
      "revert applied",
    );
    expect(running.agent.runtimeSettings()).toMatchObject({ batch: { maxEvents: 1000 }, logLevel: "silent" });
    await expect(server.setAgentPolicy({ batch: { maxEvents: 0 } })).rejects.toThrow(/batch\.maxEvents/);
  });

  test("process-list, file-hash and kill-process end to end; refusals by start time, symlink and tasks.allow", async () => {
    const running = await startAgent(
      agentConfig("health-tasks", { tasks: { allow: ["process-list", "file-hash", "kill-process"] } }),
      logger,
      [new FlakyCollector()],
    );
    stops.push(() => running.stop(500));
    const guarded = await startAgent(agentConfig("health-guarded"), logger, [new FlakyCollector()]);
    stops.push(() => guarded.stop(500));
    await waitFor(
      () =>
        server.registry.get("health-tasks")?.online === true &&
        server.registry.get("health-guarded")?.online === true,
      10_000,
      "agents connected",
    );
    const file = join(work, "hash-me.bin");
    writeFileSync(file, "vigil file-hash task\n", { mode: 0o640 });
    const hashed = await runTask("health-tasks", "file-hash", { path: file });
    expect(hashed.state).toBe("succeeded");
    expect(hashed.output).toMatchObject({
      path: file,
      sha256: createHash("sha256").update("vigil file-hash task\n").digest("hex"),
      size: 21,
      mode: "100640",
      uid: process.getuid?.(),
    });
    const link = join(work, "link-to-hash-me");
    symlinkSync(file, link);
    expect(await runTask("health-tasks", "file-hash", { path: link })).toMatchObject({
      state: "failed",
      error: expect.stringMatching(/symlink/),
    });
    expect(await runTask("health-tasks", "file-hash", { path: work })).toMatchObject({
      state: "failed",
      error: expect.stringMatching(/not a regular file/),
    });

    const sleeper = spawn("sleep", ["60"], { stdio: "ignore" });
    children.push(sleeper);
    const exited = new Promise<NodeJS.Signals | null>((done) =>
      sleeper.once("exit", (_code, signal) => done(signal)),
    );
    const listed = await runTask("health-tasks", "process-list", {});
    expect(listed.state).toBe("succeeded");
    const processes = (
      listed.output as {
        processes: Array<{
          pid: number;
          ppid: number;
          argv: string[];
          startTimeUs: number;
          user: string;
          exe: string;
        }>;
      }
    ).processes;
    const entry = processes.find((candidate) => candidate.pid === sleeper.pid);
    expect(entry).toMatchObject({
      ppid: process.pid,
      argv: ["sleep", "60"],
      exe: expect.stringMatching(/sleep$/),
    });
    const startTimeUs = String(entry?.startTimeUs);
    const pid = String(sleeper.pid);

    expect(await runTask("health-guarded", "kill-process", { pid, startTimeUs })).toMatchObject({
      state: "failed",
      error: expect.stringMatching(/not allowed on this host/),
    });
    expect(
      await runTask("health-tasks", "kill-process", {
        pid,
        startTimeUs: String(Number(startTimeUs) - 10_000),
      }),
    ).toMatchObject({
      state: "failed",
      error: expect.stringMatching(/refused: process \d+ started at/),
    });
    expect(await runTask("health-tasks", "kill-process", { pid: "1", startTimeUs: "1" })).toMatchObject({
      state: "failed",
      error: expect.stringMatching(/pid 1/),
    });
    expect(sleeper.exitCode).toBeNull();
    expect(await runTask("health-tasks", "kill-process", { pid, startTimeUs })).toMatchObject({
      state: "succeeded",
      output: { pid: sleeper.pid, signal: "SIGTERM" },
    });
    expect(await exited).toBe("SIGTERM");
    await waitFor(
      async () => ((await agentView("health-tasks"))?.counters?.tasks.ok ?? 0) >= 3,
      5000,
      "task counts in a heartbeat",
    );
    expect((await agentView("health-tasks"))?.counters?.tasks).toMatchObject({ ok: 3, refused: 4 });
  });

  test("governor: low CPU limit sheds low-priority kinds under replay load, keeps the rest, and restores", async () => {
    const lines: string[] = [];
    for (let i = 0; i < 60_000; i++) {
      const event: Event =
        i % 100 === 0
          ? execCatShadowAs(500_000 + i)
          : {
              timestampUs: 1,
              collector: "replay",
              process: execCatShadowAs(500_000 + i).process,
              payload: { $case: "fork", value: { childPid: i + 1 } },
            };
      lines.push(JSON.stringify(Event.toJSON(event)));
    }
    const file = join(work, "load.jsonl");
    writeFileSync(file, `${lines.join("\n")}\n`);
    const replay = new ReplayCollector({ files: [file], rebaseTime: true, logger });
    const running = await startAgent(
      agentConfig("health-gov", {
        // CPU only: the jest process running every suite in band can hold more
        // than the default RSS limit, which would keep the governor shedding.
        limits: { cpuPercent: 20, rssBytes: 0, sampleIntervalMs: 20, windowMs: 100, restoreAfterMs: 300 },
      }),
      logger,
      [replay],
    );
    stops.push(() => running.stop(500));
    await replay.whenDone();
    running.agent.flush();
    const afterLoad = running.agent.counters();
    expect(afterLoad.governor?.shedByKind.fork ?? 0).toBeGreaterThan(0);
    expect(afterLoad.governor?.shedByKind.exec).toBeUndefined();
    expect(afterLoad.governor?.shedEpisodes).toBeGreaterThanOrEqual(1);
    // The in-process server works through the backlog in this same process,
    // and the governor measures the whole process: idle comes after the acks.
    await waitFor(() => running.agent.link.pendingBatches() === 0, 30_000, "everything acked");
    await waitFor(() => !running.agent.governor.isShedding(), 30_000, "shedding stops once idle");
    const mine = delivered.filter(
      (event) => (event.process?.pid ?? 0) >= 500_000 && (event.process?.pid ?? 0) < 560_000,
    );
    const execs = mine.filter((event) => event.event?.action === "exec").length;
    expect(execs).toBe(600);
    const counters = running.agent.counters();
    expect(counters.droppedByReason["shed.fork"]).toBe(counters.governor?.shedByKind.fork);
    // Events in = events out + events shed.
    expect(mine.length + (counters.governor?.shedByKind.fork ?? 0)).toBe(60_000);
  }, 90_000);
});

describe("agent health - SIGTERM shutdown of a real agent process", () => {
  test("flushes, drains to the server and exits 0: every replayed event arrives exactly once", async () => {
    const count = 800;
    const file = writeExecReplayFile(join(work, "sigterm.jsonl"), 700_000, count);
    const stateDir = mkdtempSync(join(work, "sigterm-state-"));
    const env: NodeJS.ProcessEnv = {};
    for (const [name, value] of Object.entries(process.env))
      if (!name.startsWith("VIGIL_")) env[name] = value;
    const child = spawn(process.execPath, [CLI, "agent"], {
      cwd: ROOT,
      stdio: ["ignore", "ignore", "pipe"],
      env: {
        ...env,
        VIGIL_AGENT_AGENT_ID: "health-sigterm",
        VIGIL_AGENT_SERVERS: `127.0.0.1:${server.grpcPort}`,
        VIGIL_AGENT_TOKEN: TOKEN,
        VIGIL_AGENT_STATE_DIR: stateDir,
        VIGIL_AGENT_COLLECTORS: "replay",
        VIGIL_AGENT_REPLAY__FILES: file,
        // Long flush interval: without the flush on SIGTERM the last partial batch would stay behind.
        VIGIL_AGENT_BATCH__MAX_EVENTS: "300",
        VIGIL_AGENT_BATCH__FLUSH_INTERVAL_MS: "60000",
        VIGIL_AGENT_LOG_LEVEL: "warn",
      },
    });
    children.push(child);
    let stderr = "";
    child.stderr?.on("data", (chunk) => {
      stderr += String(chunk);
    });
    const exited = new Promise<number | null>((done) => child.once("exit", (code) => done(code)));
    const mine = () => delivered.filter((event) => (event.process?.pid ?? 0) >= 700_000);
    await waitFor(() => mine().length >= 600, 20_000, "the full batches arrive");
    expect(mine().length).toBe(600);
    child.kill("SIGTERM");
    expect(await exited).toBe(0);
    expect(stderr).toContain("SIGTERM, stopping");
    const pids = mine().map((event) => event.process?.pid);
    expect(pids).toHaveLength(count);
    expect(new Set(pids).size).toBe(count);
  });
});
