// Captured /dev/vigil streams through the whole pipeline, everything real: the
// agent replays the capture with its driver-replay collector (the live driver
// collector's decoding, mapping and process tracking) → gRPC → server
// (normalization to ECS) → NATS JetStream (a real nats-server -js) → hub with
// the default ruleset → SQLite alert store. Shared by test/e2e/driver-stream
// (the committed fixture) and test/qemu/driver-in-qemu (the stream captured by
// that very run).

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { agentConfigSchema, type DriverReplayCollector, type RunningAgent, startAgent } from "@vigil/agent";
import { type Bus, connectNatsBus, type EcsDocument, SqliteAlertStore, silentLogger } from "@vigil/common";
import { hubConfigSchema, type RunningHub, startHub } from "@vigil/hub";
import { serverConfigSchema, startVigilServer, type VigilServer } from "@vigil/server";
import { type NatsServerHandle, startNatsServer } from "./nats-server";
import { waitFor } from "./wait-for";

const TOKEN = "driver-pipeline-token-0123456789";

export interface DriverPipelineResult {
  /** Stored alerts (ECS alert documents). */
  alerts: EcsDocument[];
  /** Events the agent produced from the capture (and the server acked). */
  events: number;
  /** Events the hub evaluated. */
  evaluated: number;
  /** The replay collector's counters (records, decode errors, ...). */
  replay: Record<string, number>;
}

async function counter(hub: RunningHub, name: string, labels: Record<string, string> = {}): Promise<number> {
  const data = await hub.service.metricsRegistry.getSingleMetric(name)?.get();
  return (data?.values ?? [])
    .filter((sample) => Object.entries(labels).every(([key, value]) => sample.labels[key] === value))
    .reduce((sum, sample) => sum + sample.value, 0);
}

/**
 * Replays `captures` through agent → server → NATS → hub and returns the stored
 * alerts once every event was evaluated and every batch acked by the hub (so
 * every alert is stored). Everything started here is stopped before it returns.
 */
export async function runDriverCapturePipeline(
  captures: string[],
  timeoutMs = 60_000,
): Promise<DriverPipelineResult> {
  const logger = silentLogger();
  const dataDir = mkdtempSync(join(tmpdir(), "vigil-driver-pipeline-"));
  const buses: Bus[] = [];
  let nats: NatsServerHandle | undefined;
  let server: VigilServer | undefined;
  let hub: RunningHub | undefined;
  let agent: RunningAgent | undefined;
  let store: SqliteAlertStore | undefined;
  try {
    nats = await startNatsServer();
    const alertStorePath = join(dataDir, "alerts.db");
    store = new SqliteAlertStore({ path: alertStorePath });
    const connect = async (name: string) => {
      const bus = await connectNatsBus({ servers: [(nats as NatsServerHandle).url], name, logger });
      buses.push(bus);
      return bus;
    };
    server = await startVigilServer({
      config: serverConfigSchema.parse({
        serverId: "driver-pipeline",
        grpc: { port: 0, agentToken: TOKEN },
        api: { port: 0 },
      }),
      bus: await connect("driver-pipeline-server"),
      logger,
      alertReader: store,
    });
    hub = await startHub(
      hubConfigSchema.parse({ hubId: "driver-pipeline-hub", alertStorePath }),
      await connect("driver-pipeline-hub"),
      logger,
    );
    agent = await startAgent(
      agentConfigSchema.parse({
        agentId: "driver-pipeline-agent",
        servers: [`127.0.0.1:${server.grpcPort}`],
        token: TOKEN,
        collectors: ["driver-replay"],
        driverReplay: { files: captures },
        stateDir: dataDir,
        // Every exec alert is checked for its hash: on a loaded machine hashing
        // can outlast the default 50 ms an exec waits for it.
        context: { hashWaitMs: 2000 },
      }),
      logger,
    );
    const replay = agent.collectors[0] as DriverReplayCollector;
    await replay.whenDone();
    agent.agent.flush();
    const events = replay.stats().events ?? 0;
    const running = agent;
    await waitFor(
      () => running.agent.link.counters.eventsAcked >= events,
      timeoutMs,
      `${events} replayed events acked by the server`,
    );
    const batches = running.agent.link.counters.batchesAcked;
    const runningHub = hub;
    // The hub acks a batch only after its alerts are stored: all acked = all stored.
    await waitFor(
      async () => (await counter(runningHub, "vigil_hub_batches_total", { outcome: "acked" })) >= batches,
      timeoutMs,
      `${batches} batches acked by the hub`,
    );
    return {
      alerts: await store.query({ limit: 10_000 }),
      events,
      evaluated: await counter(runningHub, "vigil_hub_events_total"),
      replay: replay.stats(),
    };
  } finally {
    await agent?.stop(1000);
    await hub?.stop();
    await server?.close();
    for (const bus of buses) await bus.close();
    await store?.close();
    await nats?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
