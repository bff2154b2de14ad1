// The agent's memory at a steady event rate. Target (DESIGN.md §4): ≤ 120 MB RSS
// at 10k events/s. A real `vigil agent` process (the built CLI, replay collector
// paced by replay.rate, disk spool, default batching and limits) sends a busy
// host's event mix to a real server (gRPC, in this process, on the in-process
// bus) for [seconds] (default 30). Its RSS is sampled from /proc/<pid>/status
// every 500 ms: steady = the median of the second half of the run, peak = the
// highest sample, hwm = the kernel's VmHWM (peak RSS over the process's life,
// start-up included); cpu_% = the agent's user+system time over the second half.
// The agent runs with the node flags of deploy/systemd/vigil-agent.service's
// ExecStart (the V8 heap bounds it is installed with);
// VIGIL_BENCH_AGENT_NODE_FLAGS replaces them ("" = node's defaults) and
// VIGIL_BENCH_AGENT_NODE_OPTIONS becomes the agent's NODE_OPTIONS.
//   npm run build && node bench/agent-rss.mts [seconds] [events-per-second]
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createMemoryBus, defaultStreams, EVENTS_STREAM, silentLogger } from "@vigil/common";
import { serverConfigSchema, startVigilServer } from "@vigil/server";
import { eventMix, report } from "./bench-util.mts";

const SECONDS = Number(process.argv[2] ?? 30);
const RATE = Number(process.argv[3] ?? 10_000);
const TARGET_MB = 120;
const TOKEN = "bench-rss-agent-token-0123456789";
const AGENT_ID = "bench-rss-agent";
const CLI = join(import.meta.dirname, "..", "cli", "dist", "main.js");
const logger = silentLogger();

const dir = mkdtempSync(join(tmpdir(), "vigil-bench-rss-"));
// Enough events for the run and a little more: the mix repeated (pids repeat, no matter here).
const mix = eventMix(20_000, 0.01).map((line) => JSON.stringify(line));
const copies = Math.ceil((SECONDS * RATE * 1.1) / mix.length);
const file = join(dir, "events.jsonl");
writeFileSync(file, `${Array.from({ length: copies }, () => mix.join("\n")).join("\n")}\n`);

const bus = createMemoryBus();
await bus.ensureStreams(defaultStreams());
// Consume and ack, as the hubs would.
await bus.consume(
  { stream: EVENTS_STREAM, durable: "bench-rss", maxInFlight: 256, ackWaitMs: 30_000, maxDeliver: 3 },
  async (message) => message.ack(),
);
const server = await startVigilServer({
  config: serverConfigSchema.parse({ grpc: { port: 0, agentToken: TOKEN }, api: { port: 0 } }),
  bus,
  logger,
});

const env: NodeJS.ProcessEnv = {};
for (const [name, value] of Object.entries(process.env)) if (!name.startsWith("VIGIL_")) env[name] = value;
const nodeFlags = (process.env.VIGIL_BENCH_AGENT_NODE_FLAGS ?? unitNodeFlags()).split(" ").filter(Boolean);
const agent = spawn(process.execPath, [...nodeFlags, CLI, "agent"], {
  stdio: ["ignore", "ignore", "pipe"],
  env: {
    ...env,
    VIGIL_AGENT_AGENT_ID: AGENT_ID,
    VIGIL_AGENT_SERVERS: `127.0.0.1:${server.grpcPort}`,
    VIGIL_AGENT_TOKEN: TOKEN,
    VIGIL_AGENT_STATE_DIR: join(dir, "agent"),
    VIGIL_AGENT_COLLECTORS: "replay",
    VIGIL_AGENT_REPLAY__FILES: file,
    VIGIL_AGENT_REPLAY__RATE: String(RATE),
    VIGIL_AGENT_LOG_LEVEL: "warn",
    ...(process.env.VIGIL_BENCH_AGENT_NODE_OPTIONS
      ? { NODE_OPTIONS: process.env.VIGIL_BENCH_AGENT_NODE_OPTIONS }
      : {}),
  },
});
let stderr = "";
agent.stderr.on("data", (chunk: Buffer) => {
  stderr = (stderr + chunk.toString()).slice(-8192);
});

/** The agent's user+system CPU time in seconds, from /proc/<pid>/stat. */
function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ 100)
  } catch {
    return 0;
  }
}

/** The node flags the shipped systemd unit starts the agent with (its ExecStart, before the script). */
function unitNodeFlags(): string {
  const unit = readFileSync(
    join(import.meta.dirname, "..", "deploy", "systemd", "vigil-agent.service"),
    "utf8",
  );
  const execStart = /^ExecStart=\S+\s+(.*?)\s*\S+\/cli\/dist\/main\.js agent/m.exec(unit);
  if (!execStart)
    throw new Error(
      "deploy/systemd/vigil-agent.service: no ExecStart=<node> [flags] .../cli/dist/main.js agent",
    );
  return execStart[1];
}

function status(pid: number): { rssKb: number; hwmKb: number } | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/status`, "utf8");
    const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(text)?.[1] ?? 0);
    return { rssKb: field("VmRSS"), hwmKb: field("VmHWM") };
  } catch {
    return undefined;
  }
}

const received = () => server.registry.get(AGENT_ID)?.eventsReceived ?? 0;
const samples: { atS: number; rssKb: number }[] = [];
let hwmKb = 0;
const started = process.hrtime.bigint();
const elapsedS = () => Number(process.hrtime.bigint() - started) / 1e9;
let firstEventAtS: number | undefined;
let eventsAtHalf = 0;
let halfAtS = 0;
let cpuAtHalf = 0;
while (elapsedS() < SECONDS) {
  await new Promise((done) => setTimeout(done, 500));
  if (agent.exitCode !== null) throw new Error(`vigil agent exited (${agent.exitCode}):\n${stderr}`);
  const sample = status(agent.pid as number);
  if (!sample) continue;
  samples.push({ atS: elapsedS(), rssKb: sample.rssKb });
  hwmKb = Math.max(hwmKb, sample.hwmKb);
  if (firstEventAtS === undefined && received() > 0) firstEventAtS = elapsedS();
  if (halfAtS === 0 && elapsedS() >= SECONDS / 2) {
    halfAtS = elapsedS();
    eventsAtHalf = received();
    cpuAtHalf = cpuSeconds(agent.pid as number);
  }
}
const endS = elapsedS();
const eventsAtEnd = received();
const cpuAtEnd = cpuSeconds(agent.pid as number);
agent.kill("SIGTERM");
await new Promise((done) => agent.once("exit", done));

const steady = samples
  .filter((sample) => sample.atS >= SECONDS / 2)
  .map((sample) => sample.rssKb)
  .sort((a, b) => a - b);
const mb = (kb: number) => kb / 1024;
const steadyMb = mb(steady[Math.floor(steady.length / 2)] ?? 0);
const peakMb = mb(Math.max(...samples.map((sample) => sample.rssKb)));
report("agent rss at steady rate", {
  "events/s": Math.round((eventsAtEnd - eventsAtHalf) / (endS - halfAtS)),
  target_rate: RATE,
  node_flags: nodeFlags.join(" ") || "(none)",
  seconds: Math.round(endS),
  steady_MB: steadyMb,
  peak_MB: peakMb,
  hwm_MB: mb(hwmKb),
  "cpu_%": (100 * (cpuAtEnd - cpuAtHalf)) / (endS - halfAtS),
  events: eventsAtEnd,
  vs_target: `${(steadyMb / TARGET_MB).toFixed(2)}x`,
});

await server.close(0);
await bus.close();
rmSync(dir, { recursive: true, force: true });
