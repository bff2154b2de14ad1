import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { agentConfigSchema, type RunningAgent, startAgent } from "@vigil/agent";
import { type Bus, connectNatsBus, type EcsDocument, SqliteAlertStore, silentLogger } from "@vigil/common";
import { hubConfigSchema, type RunningHub, startHub } from "@vigil/hub";
import { serverConfigSchema, startVigilServer, type VigilServer } from "@vigil/server";
import { type NatsServerHandle, startNatsServer } from "../harness/nats-server";
import { waitFor } from "../harness/wait-for";

// Replayed attack scenarios through the real pipeline: agent → gRPC → server
// → NATS JetStream → two hubs sharing one durable consumer → SQLite. The
// alerts must be exactly the expected ones: none missing, none extra, none
// twice.

const SCENARIOS_DIR = join(__dirname, "scenarios");
const TOKEN = "e2e-agent-token-0123456789abcdef";
const logger = silentLogger();

interface ExpectedAlert {
  pid: number;
  rule: string;
}

function scenarioFiles(): string[] {
  return readdirSync(SCENARIOS_DIR)
    .filter((name) => name.endsWith(".jsonl"))
    .sort()
    .map((name) => join(SCENARIOS_DIR, name));
}

function expectedAlerts(): string[] {
  const expected: ExpectedAlert[] = [];
  for (const file of scenarioFiles()) {
    expected.push(
      ...(JSON.parse(readFileSync(file.replace(/\.jsonl$/, ".expected.json"), "utf8")) as ExpectedAlert[]),
    );
  }
  return expected.map((alert) => `${alert.pid} ${alert.rule}`).sort();
}

function eventCount(): number {
  let count = 0;
  for (const file of scenarioFiles()) {
    for (const line of readFileSync(file, "utf8").split("\n"))
      if (line.trim() && !line.startsWith("#")) count++;
  }
  return count;
}

async function counterValue(hub: RunningHub, name: string): Promise<number> {
  const data = await hub.service.metricsRegistry.getSingleMetric(name)?.get();
  return data?.values.reduce((sum, sample) => sum + sample.value, 0) ?? 0;
}

describe("end to end - replayed scenarios produce exactly the expected alerts", () => {
  let nats: NatsServerHandle;
  let dataDir: string;
  const buses: Bus[] = [];
  let server: VigilServer;
  const hubs: RunningHub[] = [];
  let agent: RunningAgent;
  let store: SqliteAlertStore;
  const published: EcsDocument[] = [];

  beforeAll(async () => {
    nats = await startNatsServer();
    dataDir = mkdtempSync(join(tmpdir(), "vigil-e2e-"));
    const alertStorePath = join(dataDir, "alerts.db");
    store = new SqliteAlertStore({ path: alertStorePath });
    const connect = async (name: string) => {
      const bus = await connectNatsBus({ servers: [nats.url], name, logger });
      buses.push(bus);
      return bus;
    };
    const serverBus = await connect("e2e-server");
    server = await startVigilServer({
      config: serverConfigSchema.parse({
        serverId: "e2e",
        grpc: { port: 0, agentToken: TOKEN },
        api: { port: 0 },
      }),
      bus: serverBus,
      logger,
      alertReader: store,
    });
    serverBus.subscribe("vigil.alerts.>", (_subject, data) =>
      published.push(JSON.parse(Buffer.from(data).toString())),
    );
    for (const hubId of ["hub-a", "hub-b"]) {
      const config = hubConfigSchema.parse({
        hubId,
        alertStorePath,
        consumer: { maxInFlight: 1, ackWaitMs: 5000, retryDelayMs: 100 },
      });
      hubs.push(await startHub(config, await connect(`e2e-${hubId}`), logger));
    }
    agent = await startAgent(
      agentConfigSchema.parse({
        agentId: "e2e-agent",
        servers: [`127.0.0.1:${server.grpcPort}`],
        token: TOKEN,
        collectors: ["replay"],
        replay: { files: scenarioFiles() },
        batch: { maxEvents: 2, flushIntervalMs: 10 },
        stateDir: dataDir,
      }),
      logger,
    );
  });

  afterAll(async () => {
    await agent?.stop(1000);
    for (const hub of hubs) await hub.stop();
    await server?.close();
    for (const bus of buses) await bus.close();
    await store?.close();
    await nats?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test("every replayed event reaches a hub once and the stored alerts are exactly the expected ones", async () => {
    const expected = expectedAlerts();
    const total = eventCount();
    await waitFor(
      async () =>
        (await counterValue(hubs[0], "vigil_hub_events_total")) +
          (await counterValue(hubs[1], "vigil_hub_events_total")) >=
        total,
      30_000,
      `${total} events evaluated by the hubs`,
    );
    await waitFor(
      async () => (await store.query({ limit: 1000 })).length >= expected.length,
      10_000,
      "alerts stored",
    );
    // Give a late duplicate or a stray alert the chance to show up before judging.
    await new Promise((resolve) => setTimeout(resolve, 1000));

    const alerts = await store.query({ limit: 1000 });
    const got = alerts
      .map((alert) => `${(alert.process as EcsDocument).pid} ${(alert.rule as EcsDocument).id}`)
      .sort();
    expect(got).toEqual(expected);
    const ids = alerts.map((alert) => (alert.event as EcsDocument).id);
    expect(new Set(ids).size).toBe(ids.length);

    const evaluated = [
      await counterValue(hubs[0], "vigil_hub_events_total"),
      await counterValue(hubs[1], "vigil_hub_events_total"),
    ];
    expect(evaluated[0] + evaluated[1]).toBe(total);
    // Both instances took part: the shared durable consumer split the work.
    expect(evaluated[0]).toBeGreaterThan(0);
    expect(evaluated[1]).toBeGreaterThan(0);
  });

  test("alerts are published on vigil.alerts.<level> once each, and the REST API serves them", async () => {
    const expected = expectedAlerts();
    await waitFor(async () => published.length >= expected.length, 5000, "published alerts");
    expect(published.map((alert) => (alert.event as EcsDocument).id).sort()).toEqual(
      (await store.query({ limit: 1000 })).map((alert) => (alert.event as EcsDocument).id).sort(),
    );
    const response = await fetch(`http://127.0.0.1:${server.apiPort}/api/v1/alerts?limit=1000`);
    expect(response.status).toBe(200);
    const body = (await response.json()) as { count: number; alerts: EcsDocument[] };
    expect(body.count).toBe(expected.length);
    const high = await fetch(`http://127.0.0.1:${server.apiPort}/api/v1/alerts?level=critical`);
    const critical = (await high.json()) as { alerts: EcsDocument[] };
    for (const alert of critical.alerts)
      expect(((alert.vigil as EcsDocument).alert as EcsDocument).level).toBe("critical");
  });
});
