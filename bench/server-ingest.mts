// Server ingest per core. Target (DESIGN.md §4): 100k events/s per core into
// JetStream; memory per idle agent stream reported.
//   decode+normalize+encode   AgentMessage.decode (what gRPC deserialisation
//                             runs) + normalizeBatch + BusEventBatch encode
//   gRPC ingress → bus        startVigilServer in this process, a real agent
//                             gRPC client (AgentServiceClient) in a child
//                             process sending batches of 1000 with a window;
//                             (a) in-process memory bus, (b) nats-server -js.
//                             events/server_cpu_s counts only this process's
//                             CPU time (the client and nats-server run
//                             elsewhere), so it is the per-core figure.
//   idle streams              N agents (own connection each, Hello only):
//                             server RSS and heap growth per stream.
//   npm run build && node bench/server-ingest.mts [seconds-per-measurement] [idle-streams]
import { fork } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import {
  type Bus,
  connectNatsBus,
  createMemoryBus,
  keepBatchObjectsYoung,
  silentLogger,
} from "@vigil/common";
import { AgentMessage, BusEventBatch, reusedWriterEncoder } from "@vigil/proto";
import { normalizeBatch, serverConfigSchema, startVigilServer } from "@vigil/server";
import {
  benchIdentity,
  benchSeconds,
  eventMix,
  forceGc,
  measure,
  rateFields,
  report,
  toEvents,
  vsTarget,
} from "./bench-util.mts";
import type { ClientReport, IdleClientParams, StreamClientParams } from "./grpc-agent-client.mts";

// The process setting `vigil server` starts with (cli/src/commands/distributed.ts).
keepBatchObjectsYoung();

const TARGET = 100_000;
const BATCH_EVENTS = 1000;
const WINDOW = 16;
const SECONDS = Number(process.argv[2] ?? benchSeconds());
const IDLE_STREAMS = Number(process.argv[3] ?? 500);
const TOKEN = "bench-agent-token-0123456789abcdef";
const CLIENT = join(import.meta.dirname, "grpc-agent-client.mts");
const logger = silentLogger();

// --- CPU path without the network: decode, normalize, encode -----------------

function cpuPath(): void {
  const identity = benchIdentity();
  const events = toEvents(eventMix(20 * BATCH_EVENTS, 0.01));
  const wire: Uint8Array[] = [];
  for (let start = 0, sequence = 1; start < events.length; start += BATCH_EVENTS, sequence++) {
    const batch = { sequence, events: events.slice(start, start + BATCH_EVENTS) };
    wire.push(AgentMessage.encode({ body: { $case: "batch", value: batch } }).finish());
  }
  const decoded = wire.map((data) => {
    const body = AgentMessage.decode(data).body;
    if (body?.$case !== "batch") throw new Error("bench batch did not round-trip");
    return body.value;
  });
  let index = 0;
  let sink = 0;
  // What the server's session and publisher run: normalizeBatch, then one kept writer encoding.
  const encodeBatch = reusedWriterEncoder(BusEventBatch);
  const normalizeEncode = (sequence: number, batch: (typeof decoded)[number]): number => {
    const receivedUs = Date.now() * 1000;
    const { events: canonical, parents } = normalizeBatch(identity, sequence, batch.events, receivedUs);
    const data = encodeBatch({
      agentId: identity.agentId,
      sequence,
      serverId: "bench-server",
      receivedUs,
      events: canonical,
      host: identity.host,
      agent: identity.agent,
      parents,
    });
    sink += data.byteLength;
    return canonical.length;
  };

  const decode = measure(() => {
    const data = wire[index++ % wire.length];
    const body = AgentMessage.decode(data).body;
    return body?.$case === "batch" ? body.value.events.length : 0;
  }, SECONDS);
  report("server AgentMessage decode", {
    ...rateFields(decode),
  });

  const normalizeOnly = measure(() => {
    const batch = decoded[index++ % decoded.length];
    return normalizeBatch(identity, index, batch.events, 1).events.length;
  }, SECONDS);
  report("server normalize only", {
    ...rateFields(normalizeOnly),
  });

  const normEnc = measure(() => normalizeEncode(index, decoded[index++ % decoded.length]), SECONDS);
  report("server normalize+encode", {
    ...rateFields(normEnc),
    vs_target: vsTarget(normEnc.perCpuSecond, TARGET),
  });

  const full = measure(() => {
    const body = AgentMessage.decode(wire[index % wire.length]).body;
    if (body?.$case !== "batch") return 0;
    return normalizeEncode(index++, body.value);
  }, SECONDS);
  report("server decode+normalize+enc", {
    ...rateFields(full),
    vs_target: vsTarget(full.perCpuSecond, TARGET),
  });
  if (sink < 0) process.stdout.write("unreachable\n");
}

// --- Through gRPC into a bus ----------------------------------------------------

function startClient(params: StreamClientParams | IdleClientParams) {
  const child = fork(CLIENT, [JSON.stringify(params)], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const next = (type: ClientReport["type"]): Promise<ClientReport> =>
    new Promise((resolve, reject) => {
      const onMessage = (message: ClientReport) => {
        if (message.type === type || message.type === "error") {
          child.off("message", onMessage);
          if (message.type === "error") reject(new Error(`bench client: ${message.message}`));
          else resolve(message);
        }
      };
      child.on("message", onMessage);
      child.once("exit", (code) => reject(new Error(`bench client exited (${code}) before "${type}"`)));
    });
  const stop = async (): Promise<void> => {
    if (child.connected) child.send("close");
    const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
    await exited;
    clearTimeout(timer);
  };
  return { next, stop };
}

async function startServer(bus: Bus) {
  return startVigilServer({
    config: serverConfigSchema.parse({
      grpc: { host: "127.0.0.1", port: 0, agentToken: TOKEN },
      api: { host: "127.0.0.1", port: 0 },
    }),
    bus,
    logger,
  });
}

/** user+system CPU seconds of a process, from /proc/<pid>/stat. */
function processCpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in USER_HZ (100)
}

function natsServerPid(port: number): number | undefined {
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0");
      if (argv[0]?.endsWith("nats-server") && argv.includes(String(port))) return Number(entry);
    } catch {
      // gone, or not ours to read
    }
  }
  return undefined;
}

async function ingress(label: string, bus: Bus, natsPid: number | undefined): Promise<void> {
  const server = await startServer(bus);
  const client = startClient({
    mode: "stream",
    port: server.grpcPort,
    token: TOKEN,
    agentId: `bench-${label.replace(/\W+/g, "-")}-${process.pid}`,
    warmupSeconds: 1.5,
    seconds: SECONDS,
    window: WINDOW,
    batchEvents: BATCH_EVENTS,
  });
  await client.next("measure-start");
  const cpuBefore = process.cpuUsage();
  const natsBefore = natsPid ? processCpuSeconds(natsPid) : 0;
  const started = process.hrtime.bigint();
  const end = (await client.next("measure-end")) as Extract<ClientReport, { type: "measure-end" }>;
  const wallS = Number(process.hrtime.bigint() - started) / 1e9;
  const cpu = process.cpuUsage(cpuBefore);
  const natsCpuS = natsPid ? processCpuSeconds(natsPid) - natsBefore : 0;
  await client.stop();
  const serverCpuS = (cpu.user + cpu.system) / 1e6;
  const perCore = end.events / serverCpuS;
  report(`server gRPC→${label}`, {
    "events/s": Math.round(end.events / end.seconds),
    "events/server_cpu_s": Math.round(perCore),
    server_cpu_pct: Math.round((100 * serverCpuS) / wallS),
    ...(natsPid ? { nats_cpu_pct: Math.round((100 * natsCpuS) / wallS) } : {}),
    batches: end.batches,
    not_stored: end.notStored,
    vs_target: vsTarget(perCore, TARGET),
  });
  await server.close(0);
}

async function idleStreams(count: number): Promise<void> {
  const bus = createMemoryBus();
  const server = await startServer(bus);
  // A few streams first so one-off costs (first connection, lazy code) are not counted.
  const warm = startClient({ mode: "idle", port: server.grpcPort, token: TOKEN, count: 10 });
  await warm.next("ready");
  await warm.stop();
  await new Promise((resolve) => setTimeout(resolve, 300));
  forceGc();
  const before = process.memoryUsage();
  const client = startClient({ mode: "idle", port: server.grpcPort, token: TOKEN, count });
  const started = process.hrtime.bigint();
  await client.next("ready");
  const openS = Number(process.hrtime.bigint() - started) / 1e9;
  await new Promise((resolve) => setTimeout(resolve, 500));
  forceGc();
  const after = process.memoryUsage();
  const online = server.registry.onlineCount();
  await client.stop();
  report("server idle streams", {
    streams: count,
    online,
    open_seconds: openS,
    rss_KB_per_stream: (after.rss - before.rss) / 1024 / count,
    heap_KB_per_stream: (after.heapUsed - before.heapUsed) / 1024 / count,
    external_KB_per_stream: (after.external - before.external) / 1024 / count,
  });
  await server.close(0);
  await bus.close();
}

await idleStreams(IDLE_STREAMS);
cpuPath();

const memoryBus = createMemoryBus();
await ingress("memory bus", memoryBus, undefined);
await memoryBus.close();

let harness: typeof import("../test/harness/nats-server.ts") | undefined;
try {
  harness = await import("../test/harness/nats-server.ts");
  harness.findNatsServer();
} catch (error) {
  process.stdout.write(`server gRPC→nats JetStream     skipped: ${(error as Error).message}\n`);
  harness = undefined;
}
if (harness) {
  const nats = await harness.startNatsServer();
  const bus = await connectNatsBus({ servers: [nats.url], name: "bench-server", logger });
  try {
    await ingress("nats JetStream", bus, natsServerPid(nats.port));
  } finally {
    await bus.close();
    await nats.stop();
  }
}
