import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { agentConfigSchema, type RunningAgent, startAgent } from "@vigil/agent";
import { silentLogger } from "@vigil/common";
import type { VigilServer } from "@vigil/server";
import { type NatsServerHandle, startNatsServer } from "../harness/nats-server";
import { apiCall, ServersOnNats } from "../harness/servers-on-nats";
import { waitFor } from "../harness/wait-for";

// Agent config by group and label across a fleet of servers: two server
// instances share one real NATS (the config bucket), real agents connect over
// gRPC; a change made through server A's API reaches an agent connected to
// server B live, and B's registry shows the version the agent's heartbeat
// reports. Precedence (default < group < label, then priority, then name),
// and a bad document refused with a 400 that changes nothing.

const TOKEN = "fleetcfg-agent-token-0123456789";
const API_TOKEN = "fleetcfg-api-token-0123456789";
const logger = silentLogger();
jest.setTimeout(60_000);

let nats: NatsServerHandle;
let work: string;
const fleet = new ServersOnNats(() => nats.url, logger);
const agents: RunningAgent[] = [];
let serverA: VigilServer;
let serverB: VigilServer;

function startServer(serverId: string): Promise<VigilServer> {
  return fleet.start(serverId, {
    grpc: { port: 0, agentToken: TOKEN, heartbeatIntervalMs: 1000 },
    api: { port: 0, token: API_TOKEN },
    agentPolicy: { batch: { maxEvents: 500 } },
  });
}

async function agentOn(
  server: VigilServer,
  agentId: string,
  attributes: { labels?: Record<string, string>; groups?: string[] },
): Promise<RunningAgent> {
  const config = agentConfigSchema.parse({
    agentId,
    stateDir: mkdtempSync(join(work, `${agentId}-`)),
    servers: [`127.0.0.1:${server.grpcPort}`],
    token: TOKEN,
    transport: { backoffInitialMs: 50, backoffMaxMs: 200 },
    spool: { mode: "memory" },
    ...attributes,
  });
  const running = await startAgent(config, logger, []);
  agents.push(running);
  return running;
}

function api(server: VigilServer, method: string, path: string, body?: unknown) {
  return apiCall(server, method, path, { body, token: API_TOKEN });
}

interface Effective {
  version: number;
  policy: { batch?: { maxEvents?: number; flushIntervalMs?: number }; log?: { level?: string } };
  documents: Array<{ name: string }>;
  skipped: Array<{ name: string; reason: string }>;
}

async function effective(server: VigilServer, agentId: string): Promise<Effective> {
  const answer = await api(server, "GET", `/api/v1/agents/${agentId}/effective-config`);
  expect(answer.status).toBe(200);
  return answer.body as unknown as Effective;
}

/** The config version the agent's latest heartbeat reported to `server`'s registry. */
async function heartbeatVersion(server: VigilServer, agentId: string): Promise<number | undefined> {
  const answer = await api(server, "GET", "/api/v1/agents");
  const list = answer.body.agents as Array<{
    agentId: string;
    counters?: { config?: { appliedVersion: number } };
  }>;
  return list.find((agent) => agent.agentId === agentId)?.counters?.config?.appliedVersion;
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "fleetcfg-it-"));
  nats = await startNatsServer();
  serverA = await startServer("fleetcfg-a");
  serverB = await startServer("fleetcfg-b");
});

afterAll(async () => {
  for (const agent of agents) await agent.stop(500);
  await fleet.close();
  await nats?.stop();
  rmSync(work, { recursive: true, force: true });
});

describe("fleet config - documents by group and label in NATS KV, pushed live by every server", () => {
  test("a group document written through server A reaches an agent on server B; its heartbeat reports the version", async () => {
    const web = await agentOn(serverB, "fleetcfg-web-1", { groups: ["web"] });
    const other = await agentOn(serverB, "fleetcfg-db-1", { groups: ["db"] });
    // The fleet default (seeded once from agentPolicy by whichever server started first) applies first.
    await waitFor(() => web.agent.runtimeSettings().batch.maxEvents === 500, 10_000, "fleet default applied");
    await waitFor(
      () => other.agent.runtimeSettings().batch.maxEvents === 500,
      10_000,
      "fleet default applied",
    );
    const otherVersion = other.agent.counters().config?.appliedVersion;

    const put = await api(serverA, "PUT", "/api/v1/agent-config/web-batching", {
      target: "group:web",
      policy: { batch: { maxEvents: 42 } },
    });
    expect(put.status).toBe(201);
    expect(put.body).toMatchObject({ name: "web-batching", target: "group:web", priority: 0 });

    await waitFor(() => web.agent.runtimeSettings().batch.maxEvents === 42, 10_000, "group document applied");
    const seenByA = await effective(serverA, "fleetcfg-web-1");
    const seenByB = await effective(serverB, "fleetcfg-web-1");
    expect(seenByB.documents.map((document) => document.name)).toEqual(["default", "web-batching"]);
    expect(seenByB.version).toBe(put.body.revision);
    // Server A does not hold the agent's stream (it knows it from the fleet registry) and computes the same version.
    expect(seenByA.version).toBe(seenByB.version);
    await waitFor(
      async () => (await heartbeatVersion(serverB, "fleetcfg-web-1")) === seenByB.version,
      10_000,
      "the applied version in B's registry (from the agent's heartbeat)",
    );
    // The agent outside the group was not sent anything.
    expect(other.agent.counters().config?.appliedVersion).toBe(otherVersion);
    expect(other.agent.runtimeSettings().batch.maxEvents).toBe(500);

    // Deleting the document reverts the agent to the fleet default, at a higher version.
    expect((await api(serverA, "DELETE", "/api/v1/agent-config/web-batching")).status).toBe(204);
    await waitFor(
      () => web.agent.runtimeSettings().batch.maxEvents === 500,
      10_000,
      "document deletion applied",
    );
    const after = await effective(serverB, "fleetcfg-web-1");
    expect(after.version).toBeGreaterThan(seenByB.version);
    expect(after.documents.map((document) => document.name)).toEqual(["default"]);
  });

  test("precedence: default < group < label, then priority, then name", async () => {
    const agent = await agentOn(serverA, "fleetcfg-prod-1", {
      groups: ["api"],
      labels: { env: "prod", tier: "1" },
    });
    await waitFor(
      () => agent.agent.runtimeSettings().batch.maxEvents === 500,
      10_000,
      "fleet default applied",
    );
    const put = async (name: string, body: unknown) => {
      const answer = await api(serverB, "PUT", `/api/v1/agent-config/${name}`, body);
      expect(answer.status).toBe(201);
    };
    // Label beats group whatever the priorities; among labels the higher priority wins, then the later name.
    await put("api-group", {
      target: "group:api",
      priority: 100,
      policy: { batch: { maxEvents: 11, flushIntervalMs: 40 } },
    });
    await put("prod-a", { target: "label:env=prod", priority: 5, policy: { batch: { maxEvents: 22 } } });
    await put("prod-b", {
      target: "label:env=prod,tier=1",
      priority: 1,
      policy: { batch: { maxEvents: 33 }, log: { level: "warn" } },
    });
    await put("prod-c", { target: "label:tier=1", priority: 5, policy: { log: { level: "error" } } });
    await put("staging", { target: "label:env=staging", priority: 99, policy: { batch: { maxEvents: 99 } } });

    await waitFor(
      () => agent.agent.runtimeSettings().logLevel === "error",
      10_000,
      "label documents applied",
    );
    const result = await effective(serverA, "fleetcfg-prod-1");
    expect(result.documents.map((document) => document.name)).toEqual([
      "default",
      "api-group",
      "prod-b",
      "prod-a",
      "prod-c",
    ]);
    expect(result.policy.batch).toEqual({ maxEvents: 22, flushIntervalMs: 40 });
    expect(result.policy.log).toEqual({ level: "error" });
    expect(agent.agent.runtimeSettings().batch).toEqual({ maxEvents: 22, flushIntervalMs: 40 });
    await waitFor(
      async () => (await heartbeatVersion(serverA, "fleetcfg-prod-1")) === result.version,
      10_000,
      "the applied version in the heartbeat",
    );
  });

  test("a bad document is a 400 naming the key, and nothing changes anywhere", async () => {
    const agent = await agentOn(serverB, "fleetcfg-bad-1", { groups: ["batch"] });
    const good = await api(serverA, "PUT", "/api/v1/agent-config/batch-group", {
      target: "group:batch",
      policy: { batch: { maxEvents: 77 } },
    });
    expect(good.status).toBe(201);
    await waitFor(() => agent.agent.runtimeSettings().batch.maxEvents === 77, 10_000, "document applied");
    const versionBefore = agent.agent.counters().config?.appliedVersion;

    const badValue = await api(serverA, "PUT", "/api/v1/agent-config/batch-group", {
      target: "group:batch",
      policy: { batch: { maxEvents: 0 }, driver: { watchedPrefixes: ["relative/path"] } },
    });
    expect(badValue.status).toBe(400);
    expect(badValue.body.message).toMatch(/policy\.batch\.maxEvents: /);
    expect(badValue.body.message).toMatch(
      /policy\.driver\.watchedPrefixes\[0\]: "relative\/path" must be an absolute path/,
    );
    const unknownKey = await api(serverA, "PUT", "/api/v1/agent-config/batch-group", {
      target: "group:batch",
      policy: { batch: { maxEvnts: 5 } },
    });
    expect(unknownKey.status).toBe(400);
    expect(unknownKey.body.message).toMatch(/policy\.batch: .*maxEvnts/);
    const badTarget = await api(serverA, "PUT", "/api/v1/agent-config/batch-group", {
      target: "host:x",
      policy: {},
    });
    expect(badTarget.status).toBe(400);
    expect(badTarget.body.message).toMatch(/^target: /);
    const retarget = await api(serverA, "PUT", "/api/v1/agent-config/batch-group", {
      target: "group:other",
      policy: {},
    });
    expect(retarget.status).toBe(409);
    expect(retarget.body.message).toMatch(/targets group:batch/);
    expect((await api(serverA, "DELETE", "/api/v1/agent-config/default")).status).toBe(400);

    // Nothing changed: the stored document, its revision, what the agent runs.
    const stored = await api(serverB, "GET", "/api/v1/agent-config/batch-group");
    expect(stored.body).toMatchObject({ policy: { batch: { maxEvents: 77 } }, revision: good.body.revision });
    expect(agent.agent.counters().config?.appliedVersion).toBe(versionBefore);
    expect(agent.agent.runtimeSettings().batch.maxEvents).toBe(77);
    const list = await api(serverB, "GET", "/api/v1/agent-config");
    expect((list.body.documents as Array<{ name: string }>).map((document) => document.name)).toContain(
      "batch-group",
    );
  });
});
