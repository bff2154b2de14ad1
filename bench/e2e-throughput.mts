// End-to-end throughput: replayed events → agent → gRPC → server → bus →
// hub (full default ruleset) → SQLite alert store. Runs once on the
// in-process bus (embedded mode) and once on a real nats-server -js
// (distributed mode) when nats-server is installed.
//   npm run build && node bench/e2e-throughput.mts [events]
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { agentConfigSchema, startAgent } from "@vigil/agent";
import { type Bus, connectNatsBus, createMemoryBus, SqliteAlertStore, silentLogger } from "@vigil/common";
import { hubConfigSchema, startHub } from "@vigil/hub";
import { serverConfigSchema, startVigilServer } from "@vigil/server";
import { findNatsServer, startNatsServer as startBenchNats } from "../test/harness/nats-server.ts";
import { loadTemplates, report, writeEventStream } from "./bench-util.mts";

const EVENTS = Number(process.argv[2] ?? 50_000);
const ALERTING_SHARE = 0.01;
const TOKEN = "bench-agent-token-0123456789abcdef";
const logger = silentLogger();

async function run(busKind: "memory" | "nats"): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "vigil-bench-"));
  const scenarios = join(import.meta.dirname, "..", "test", "e2e", "scenarios");
  const files = readdirSync(scenarios)
    .filter((name) => name.endsWith(".jsonl"))
    .map((name) => join(scenarios, name));
  const streamFile = join(dir, "events.jsonl");
  writeEventStream(
    streamFile,
    loadTemplates(files, (file) => readFileSync(file, "utf8")),
    EVENTS,
    ALERTING_SHARE,
  );

  const nats = busKind === "nats" ? await startBenchNats() : undefined;
  const newBus = async (): Promise<Bus> =>
    nats ? connectNatsBus({ servers: [nats.url], name: "bench", logger }) : sharedMemoryBus;
  const sharedMemoryBus = createMemoryBus();
  const alertStorePath = join(dir, "alerts.db");
  const serverBus = await newBus();
  const hubBus = await newBus();
  const server = await startVigilServer({
    config: serverConfigSchema.parse({ grpc: { port: 0, agentToken: TOKEN }, api: { port: 0 } }),
    bus: serverBus,
    logger,
  });
  const hub = await startHub(
    hubConfigSchema.parse({ alertStorePath, consumer: { maxInFlight: 64 } }),
    hubBus,
    logger,
  );
  const store = new SqliteAlertStore({ path: alertStorePath });

  const started = process.hrtime.bigint();
  const agent = await startAgent(
    agentConfigSchema.parse({
      agentId: "bench-agent",
      servers: [`127.0.0.1:${server.grpcPort}`],
      token: TOKEN,
      collectors: ["replay"],
      replay: { files: [streamFile] },
      batch: { maxEvents: 1000, flushIntervalMs: 20 },
      transport: { maxPendingBatches: 100_000, maxInFlightBatches: 32 },
      stateDir: dir,
    }),
    logger,
  );
  const evaluated = async () => {
    const data = await hub.service.metricsRegistry.getSingleMetric("vigil_hub_events_total")?.get();
    return data?.values.reduce((sum, sample) => sum + sample.value, 0) ?? 0;
  };
  // A lost event must end the bench with a message, not hang it.
  const deadline = Date.now() + Math.max(60_000, EVENTS * 2);
  while ((await evaluated()) < EVENTS) {
    if (Date.now() > deadline)
      throw new Error(`hub evaluated ${await evaluated()} of ${EVENTS} events in time`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  const elapsedS = Number(process.hrtime.bigint() - started) / 1e9;
  const alerts = (await store.stats()).total;
  report(`e2e replay→alert (${busKind})`, {
    events: EVENTS,
    seconds: elapsedS,
    "events/s": Math.round(EVENTS / elapsedS),
    alerts,
    rss_MB: Math.round(process.memoryUsage.rss() / 1e6),
  });
  await agent.stop(1000);
  await hub.stop();
  await server.close();
  if (nats) {
    await serverBus.close();
    await hubBus.close();
    await nats.stop();
  } else {
    await sharedMemoryBus.close();
  }
  await store.close();
  rmSync(dir, { recursive: true, force: true });
}

await run("memory");
let natsMissing: string | undefined;
try {
  findNatsServer();
} catch (error) {
  natsMissing = (error as Error).message;
}
if (natsMissing) process.stdout.write(`e2e replay→alert (nats)      skipped: ${natsMissing}\n`);
else await run("nats");
