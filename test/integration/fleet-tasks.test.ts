import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { agentConfigSchema, type RunningAgent, startAgent } from "@vigil/agent";
import { silentLogger } from "@vigil/common";
import type { VigilServer } from "@vigil/server";
import { type NatsServerHandle, startNatsServer } from "../harness/nats-server";
import { apiCall, ServersOnNats } from "../harness/servers-on-nats";
import { waitFor } from "../harness/wait-for";

// Fleet tasks across server instances: two servers share one real NATS (the
// task bucket); real agents connect over gRPC to either. A fleet task created
// through server A runs once on every agent, on A and on B, and every result
// is readable through B's API (paged); a task for an agent that is offline is
// delivered when it connects, to whichever server.

const TOKEN = "fleettasks-agent-token-0123456789";
const API_TOKEN = "fleettasks-api-token-0123456789";
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
  });
}

async function agentOn(server: VigilServer, agentId: string, groups: string[] = []): Promise<RunningAgent> {
  const config = agentConfigSchema.parse({
    agentId,
    stateDir: mkdtempSync(join(work, `${agentId}-`)),
    servers: [`127.0.0.1:${server.grpcPort}`],
    token: TOKEN,
    groups,
    transport: { backoffInitialMs: 50, backoffMaxMs: 200 },
    spool: { mode: "memory" },
  });
  const running = await startAgent(config, logger, []);
  agents.push(running);
  return running;
}

function api(server: VigilServer, method: string, path: string, body?: unknown) {
  return apiCall(server, method, path, { body, token: API_TOKEN });
}

interface AgentResult {
  agentId: string;
  state: string;
  serverId?: string;
  output?: { processes?: Array<{ pid: number }> };
}

interface TaskPage {
  taskId: string;
  target: string;
  results: { total: number; items: AgentResult[]; nextAfter?: string };
}

async function allResults(server: VigilServer, taskId: string, limit: number): Promise<AgentResult[]> {
  const results: AgentResult[] = [];
  let after: string | undefined;
  do {
    const query = `limit=${limit}${after ? `&after=${after}` : ""}`;
    const page = (await api(server, "GET", `/api/v1/tasks/${taskId}?${query}`)).body as unknown as TaskPage;
    expect(page.results.items.length).toBeLessThanOrEqual(limit);
    results.push(...page.results.items);
    after = page.results.nextAfter;
  } while (after);
  return results;
}

function connected(server: VigilServer, agentId: string): Promise<void> {
  return waitFor(() => server.registry.get(agentId)?.online === true, 10_000, `${agentId} connected`);
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "fleettasks-it-"));
  nats = await startNatsServer();
  serverA = await startServer("fleettasks-a");
  serverB = await startServer("fleettasks-b");
});

afterAll(async () => {
  for (const agent of agents) await agent.stop(500);
  await fleet.close();
  await nats?.stop();
  rmSync(work, { recursive: true, force: true });
});

describe("fleet tasks - stored in NATS KV, delivered by every server, results through any API", () => {
  test("a fleet task created on A runs on agents of A and B; every result is visible through B, paged", async () => {
    const ids = ["ft-a-1", "ft-a-2", "ft-b-1", "ft-b-2", "ft-b-3"];
    for (const id of ids) await agentOn(id.startsWith("ft-a") ? serverA : serverB, id);
    for (const id of ids) await connected(id.startsWith("ft-a") ? serverA : serverB, id);

    const created = await api(serverA, "POST", "/api/v1/tasks", { kind: "process-list", target: "fleet" });
    expect(created.status).toBe(202);
    const taskId = created.body.taskId as string;
    await waitFor(
      async () => {
        const results = await allResults(serverB, taskId, 2);
        return results.filter((result) => result.state === "succeeded").length >= ids.length;
      },
      20_000,
      "every agent's result through B",
    );
    const results = await allResults(serverB, taskId, 2);
    // Once per agent, each by the server holding its stream, each with this process in its list.
    expect(results.map((result) => result.agentId).sort()).toEqual(expect.arrayContaining([...ids].sort()));
    const mine = results.filter((result) => ids.includes(result.agentId));
    expect(mine).toHaveLength(ids.length);
    for (const result of mine) {
      expect(result.state).toBe("succeeded");
      expect(result.serverId).toBe(result.agentId.startsWith("ft-a") ? "fleettasks-a" : "fleettasks-b");
      expect(result.output?.processes?.some((entry) => entry.pid === process.pid)).toBe(true);
    }
    const counted = agents.map((running) => running.agent.counters().tasks?.ok ?? 0);
    expect(counted.reduce((sum, value) => sum + value, 0)).toBe(ids.length);
  });

  test("a task for an offline agent is delivered when it connects; a group task reaches only the group", async () => {
    const offlineTask = await api(serverA, "POST", "/api/v1/agents/ft-late-1/tasks", {
      kind: "process-list",
    });
    expect(offlineTask.status).toBe(202);
    const groupTask = await api(serverB, "POST", "/api/v1/tasks", {
      kind: "process-list",
      target: "group:late",
    });
    expect(groupTask.status).toBe(202);
    const queued = (await api(serverB, "GET", `/api/v1/tasks/${offlineTask.body.taskId}`))
      .body as unknown as TaskPage;
    expect(queued.results.items).toEqual([{ agentId: "ft-late-1", state: "queued" }]);

    // The agent comes online on B, which did not take the API call.
    await agentOn(serverB, "ft-late-1", ["late"]);
    await connected(serverB, "ft-late-1");
    for (const task of [offlineTask, groupTask]) {
      await waitFor(
        async () => {
          const page = (await api(serverA, "GET", `/api/v1/tasks/${task.body.taskId}`))
            .body as unknown as TaskPage;
          return page.results.items.some(
            (item) => item.agentId === "ft-late-1" && item.state === "succeeded",
          );
        },
        20_000,
        "the late agent's result",
      );
    }
    const group = (await api(serverA, "GET", `/api/v1/tasks/${groupTask.body.taskId}`))
      .body as unknown as TaskPage;
    expect(group.results.items.map((item) => item.agentId)).toEqual(["ft-late-1"]);
  });

  test("bad task requests are 400s naming the field", async () => {
    const badTarget = await api(serverA, "POST", "/api/v1/tasks", {
      kind: "process-list",
      target: "everyone",
    });
    expect(badTarget.status).toBe(400);
    expect(badTarget.body.message).toMatch(/^target: /);
    const badKind = await api(serverA, "POST", "/api/v1/tasks", { kind: "rm-rf", target: "fleet" });
    expect(badKind.status).toBe(400);
    expect(badKind.body.message).toMatch(/^kind: must be one of process-list, kill-process, file-hash/);
    const badTtl = await api(serverA, "POST", "/api/v1/tasks", {
      kind: "process-list",
      target: "fleet",
      ttlMs: 10,
    });
    expect(badTtl.status).toBe(400);
    expect(badTtl.body.message).toMatch(/^ttlMs: /);
    expect((await api(serverB, "GET", "/api/v1/tasks/no-such-task")).status).toBe(404);
  });
});
