import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { agentConfigSchema, type RunningAgent, startAgent } from "@vigil/agent";
import { type Bus, createMemoryBus, silentLogger } from "@vigil/common";
import { serverConfigSchema, startVigilServer, type VigilServer } from "@vigil/server";
import { type CapturedOutput, captureOutput } from "../../../test/harness/capture-output";
import { waitFor } from "../../../test/harness/wait-for";
import type { ApiOptions } from "./api-client";
import { listTasks, runTask, showTask } from "./tasks";

// `vigil tasks` against an embedded server with real agents connected over
// gRPC: run on an agent, a label and the fleet with --wait, the results
// table and JSON lines, `tasks show` and `tasks list`.

const TOKEN = "cli-tasks-admin-token-0123456789";
const AGENT_TOKEN = "cli-tasks-agent-token-0123456789";

describe("vigil tasks - against an embedded server with real agents", () => {
  let bus: Bus;
  let server: VigilServer;
  let work: string;
  let api: ApiOptions;
  let output: CapturedOutput;
  const agents: RunningAgent[] = [];

  async function agent(agentId: string, labels: Record<string, string>): Promise<void> {
    const config = agentConfigSchema.parse({
      agentId,
      stateDir: mkdtempSync(join(work, `${agentId}-`)),
      servers: [`127.0.0.1:${server.grpcPort}`],
      token: AGENT_TOKEN,
      labels,
      transport: { backoffInitialMs: 50, backoffMaxMs: 200 },
      spool: { mode: "memory" },
    });
    agents.push(await startAgent(config, silentLogger(), []));
    await waitFor(() => server.registry.get(agentId)?.online === true, 10_000, `${agentId} connected`);
  }

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), "cli-tasks-"));
    bus = createMemoryBus();
    const config = serverConfigSchema.parse({
      serverId: "cli-tasks",
      grpc: { port: 0, agentToken: AGENT_TOKEN, heartbeatIntervalMs: 1000 },
      api: { port: 0, token: TOKEN },
    });
    server = await startVigilServer({ config, bus, logger: silentLogger() });
    api = { api: `http://127.0.0.1:${server.apiPort}`, token: TOKEN, json: false };
    await agent("cli-task-web", { role: "web" });
    await agent("cli-task-db", { role: "db" });
    output = captureOutput();
  });

  afterAll(async () => {
    output?.restore();
    for (const running of agents) await running.stop(500);
    await server?.close(0);
    await bus?.close();
    rmSync(work, { recursive: true, force: true });
  });

  afterEach(() => {
    process.exitCode = 0;
  });

  test("vigil tasks run --agent --wait - the agent's result in a table", async () => {
    output.clear();
    await runTask({ ...api, agent: "cli-task-web", fleet: false, wait: 30, pollMs: 50 }, "process-list", []);
    const lines = output.lines();
    expect(lines[0]).toMatch(/^task \S+: process-list on agent:cli-task-web, until \S+, 1 agents$/);
    expect(lines[1]).toMatch(/^AGENT\s+STATE\s+SERVER\s+FINISHED\s+RESULT$/);
    expect(lines[2]).toMatch(/^cli-task-web\s+succeeded\s+cli-tasks\s+\d+s ago\s+\d+ processes$/);
    expect(process.exitCode ?? 0).toBe(0);
  });

  test("vigil tasks run --label / --fleet --wait --json - one line per agent that matched", async () => {
    output.clear();
    await runTask({ ...api, json: true, label: "role=db", fleet: false, wait: 30, pollMs: 50 }, "file-hash", [
      `path=${process.execPath}`,
    ]);
    const byLabel = output.lines().map((line) => JSON.parse(line));
    expect(byLabel.map((r) => [r.agentId, r.state])).toEqual([["cli-task-db", "succeeded"]]);

    output.clear();
    await runTask({ ...api, json: true, fleet: true, wait: 30, pollMs: 50 }, "process-list", []);
    const fleet = output.lines().map((line) => JSON.parse(line));
    expect(fleet.map((r) => [r.agentId, r.state]).sort()).toEqual([
      ["cli-task-db", "succeeded"],
      ["cli-task-web", "succeeded"],
    ]);

    output.clear();
    await showTask(api, fleet[0].taskId);
    expect(output.lines()[0]).toMatch(
      new RegExp(`^task ${fleet[0].taskId}: process-list on fleet, until \\S+, 2 agents$`),
    );

    output.clear();
    await listTasks(api);
    const listed = output.lines();
    expect(listed[0]).toMatch(/^TASK\s+KIND\s+TARGET\s+CREATED\s+EXPIRES\s+BY\s+PARAMS$/);
    expect(listed.some((line) => line.startsWith(fleet[0].taskId) && /\sfleet\s/.test(line))).toBe(true);
  });

  test("vigil tasks run - a bad target or parameter is named before anything is sent; an unknown task is a 404", async () => {
    await expect(runTask({ ...api, fleet: true, agent: "x" }, "process-list", [])).rejects.toThrow(
      "give exactly one of --agent, --group, --label, --fleet",
    );
    await expect(runTask({ ...api, fleet: true }, "kill-process", ["1234"])).rejects.toThrow(
      'task parameter "1234" must be key=value (e.g. pid=1234)',
    );
    await expect(showTask(api, "no-such-task")).rejects.toThrow("API 404: no task no-such-task");
  });
});
