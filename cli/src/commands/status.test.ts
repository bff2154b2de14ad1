import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type Bus,
  type Consumption,
  connectNatsBus,
  createMemoryBus,
  EVENTS_STREAM,
  HUB_DURABLE,
  SqliteAlertStore,
  silentLogger,
} from "@vigil/common";
import { identityFromHello, serverConfigSchema, startVigilServer, type VigilServer } from "@vigil/server";
import { makeAlert } from "../../../test/doubles/alert-fixture";
import { SAMPLE_HELLO } from "../../../test/fixtures/sample-events";
import { type CapturedOutput, captureOutput } from "../../../test/harness/capture-output";
import { type NatsServerHandle, startNatsServer } from "../../../test/harness/nats-server";
import { waitFor } from "../../../test/harness/wait-for";
import type { ApiOptions } from "./api-client";
import { showStatus } from "./status";

// `vigil status` from GET /api/v1/status: an embedded server (in-process bus
// and hub, SQLite alerts) and a distributed one on real NATS, where the hubs'
// part is the shared consumer on the events stream.

const TOKEN = "cli-status-admin-token-0123456789";

function config(serverId: string) {
  return serverConfigSchema.parse({
    serverId,
    grpc: { port: 0, agentToken: "cli-status-agent-token-0123456789" },
    api: { port: 0, token: TOKEN },
  });
}

describe("vigil status - fleet health", () => {
  let output: CapturedOutput;
  let dir: string;

  beforeAll(() => {
    output = captureOutput();
    dir = mkdtempSync(join(tmpdir(), "cli-status-"));
  });
  afterAll(() => {
    output?.restore();
    rmSync(dir, { recursive: true, force: true });
  });
  afterEach(() => {
    process.exitCode = 0;
  });

  function field(name: string): string {
    const line = output.lines().find((l) => l.startsWith(`${name} `));
    return line?.slice(name.length).trim() ?? "";
  }

  test("vigil status - embedded: server ready, agents, in-process hub, ruleset version, alert rate", async () => {
    const bus = createMemoryBus();
    const store = new SqliteAlertStore({ path: join(dir, "alerts.db") });
    const server = await startVigilServer({
      config: config("status-embedded"),
      bus,
      logger: silentLogger(),
      alertReader: store,
    });
    try {
      const api: ApiOptions = { api: `http://127.0.0.1:${server.apiPort}`, token: TOKEN, json: false };
      server.registry.connected(
        identityFromHello({ ...SAMPLE_HELLO, agentId: "status-agent-1" }),
        "s1",
        [],
        0,
      );
      await waitFor(() => server.fleet.get("status-agent-1") !== undefined, 5000, "the agent record");
      await store.write([
        makeAlert({ seed: "recent", timestampUs: (Date.now() - 10_000) * 1000 }),
        makeAlert({ seed: "older", timestampUs: (Date.now() - 30 * 60_000) * 1000 }),
      ]);
      output.clear();
      await showStatus(api);
      expect(field("server")).toMatch(/^status-embedded ready; bus connected/);
      expect(field("servers")).toBe("status-embedded (1 agents)");
      expect(field("agents")).toMatch(/^1 known: 1 online, 0 stale, 0 offline; [\d.]+ events\/s$/);
      expect(field("bus")).toBe("memory connected");
      expect(field("hubs")).toBe("in-process (embedded mode)");
      expect(field("rules")).toMatch(/^version 1, (\d+)\/\1 enabled, changed \d+s ago$/);
      expect(field("alerts")).toBe("1 in the last minute, 2 in the last hour");
      expect(field("health")).toBe("ok");
      expect(process.exitCode ?? 0).toBe(0);

      output.clear();
      await showStatus({ ...api, json: true });
      const json = JSON.parse(output.lines()[0]);
      expect(json).toMatchObject({
        healthy: true,
        server: { id: "status-embedded", ready: true },
        agents: { total: 1, online: 1, stale: 0, offline: 0 },
        bus: { kind: "memory", connected: true },
        hubs: { inProcess: true },
        rules: { version: 1 },
        alerts: { lastMinute: 1, lastHour: 2 },
      });
    } finally {
      await server.close(0);
      await bus.close();
      store.close();
    }
  });

  test("vigil status - on NATS: no hub is a problem (exit 1); a hub joined shows the consumer's backlog", async () => {
    const nats: NatsServerHandle = await startNatsServer();
    let bus: Bus | undefined;
    let server: VigilServer | undefined;
    let hub: Consumption | undefined;
    try {
      bus = await connectNatsBus({ servers: [nats.url], name: "cli-status", logger: silentLogger() });
      server = await startVigilServer({ config: config("status-nats"), bus, logger: silentLogger() });
      const api: ApiOptions = { api: `http://127.0.0.1:${server.apiPort}`, token: TOKEN, json: false };
      output.clear();
      await showStatus(api);
      expect(field("bus")).toBe("nats connected");
      expect(field("hubs")).toBe("no hub has joined (no consumer on the events stream yet)");
      expect(field("alerts")).toBe("no alert store on this server");
      expect(field("health")).toBe("no hub");
      expect(process.exitCode).toBe(1);
      process.exitCode = 0;

      hub = await bus.consume(
        { stream: EVENTS_STREAM, durable: HUB_DURABLE, maxInFlight: 8, ackWaitMs: 30_000, maxDeliver: 5 },
        async (message) => message.ack(),
      );
      output.clear();
      await showStatus(api);
      expect(field("hubs")).toMatch(
        /^0 batches waiting, 0 in progress, 0 redelivered, \d+ pull requests open \(consumer vigil-hub\)$/,
      );
      expect(field("health")).toBe("ok");
    } finally {
      await hub?.stop();
      await server?.close(0);
      await bus?.close();
      await nats.stop();
    }
  });
});
