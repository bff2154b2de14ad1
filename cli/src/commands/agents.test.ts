import { type Bus, createMemoryBus, silentLogger } from "@vigil/common";
import { identityFromHello, serverConfigSchema, startVigilServer, type VigilServer } from "@vigil/server";
import { SAMPLE_HELLO } from "../../../test/fixtures/sample-events";
import { type CapturedOutput, captureOutput } from "../../../test/harness/capture-output";
import { waitFor } from "../../../test/harness/wait-for";
import { listAgents, showAgent } from "./agents";
import type { ApiOptions } from "./api-client";

// `vigil agents` against an embedded-mode server (in-process bus and KV): the
// fleet registry read through the API, filtered, every page of it, as a
// table and as JSON lines; `vigil agents show` and its 404.

const TOKEN = "cli-agents-admin-token-0123456789";

describe("vigil agents - against an embedded server", () => {
  let bus: Bus;
  let server: VigilServer;
  let api: ApiOptions;
  let output: CapturedOutput;

  async function run(command: () => Promise<void>): Promise<string[]> {
    output.clear();
    await command();
    return output.lines();
  }

  function connect(agentId: string, hostname: string, labels: Record<string, string> = {}): void {
    server.registry.connected(
      identityFromHello({ ...SAMPLE_HELLO, agentId, hostname, labels }),
      `session-${agentId}`,
      [],
      0,
    );
  }

  beforeAll(async () => {
    bus = createMemoryBus();
    const config = serverConfigSchema.parse({
      serverId: "cli-agents",
      grpc: { port: 0, agentToken: "cli-agents-agent-token-0123456789" },
      api: { port: 0, token: TOKEN },
    });
    server = await startVigilServer({ config, bus, logger: silentLogger() });
    api = { api: `http://127.0.0.1:${server.apiPort}`, token: TOKEN, tokenSource: "--token", json: false };
    output = captureOutput();
  });

  afterAll(async () => {
    output?.restore();
    await server?.close(0);
    await bus?.close();
  });

  test("vigil agents - an aligned table with status, server and labels; filters; --json prints the records", async () => {
    connect("cli-agent-1", "web-01", { env: "prod" });
    connect("cli-agent-2", "db-01", { env: "dev" });
    server.registry.disconnected("cli-agent-2", "session-cli-agent-2");
    await waitFor(() => server.fleet.get("cli-agent-2")?.state === "offline", 5000, "both records");

    const lines = await run(() => listAgents(api));
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(
      /^AGENT\s+HOSTNAME\s+STATUS\s+SERVER\s+VERSION\s+DRIVER\s+LAST SEEN\s+EVENTS\s+LABELS$/,
    );
    expect(lines[1]).toMatch(
      /^cli-agent-1\s+web-01\s+online\s+cli-agents\s+\S+\s+\S+\s+\d+s ago\s+0\s+env=prod$/,
    );
    expect(lines[2]).toMatch(/^cli-agent-2\s+db-01\s+offline\s+cli-agents\s.*env=dev$/);
    // Aligned: every row's STATUS starts in the header's column.
    const column = lines[0].indexOf("STATUS");
    expect(lines.slice(1).map((line) => line.slice(column, column + 7).trim())).toEqual([
      "online",
      "offline",
    ]);

    expect(await run(() => listAgents(api, { status: "online" }))).toHaveLength(2);
    expect((await run(() => listAgents(api, { label: "env=dev" })))[1]).toMatch(/^cli-agent-2 /);
    expect((await run(() => listAgents(api, { hostname: "WEB" })))[1]).toMatch(/^cli-agent-1 /);
    expect(await run(() => listAgents(api, { server: "elsewhere" }))).toEqual(["no agents match"]);

    const records = (await run(() => listAgents({ ...api, json: true }))).map(
      (line) => JSON.parse(line) as Record<string, unknown>,
    );
    expect(records.map((r) => [r.agentId, r.status, r.serverId, r.labels])).toEqual([
      ["cli-agent-1", "online", "cli-agents", { env: "prod" }],
      ["cli-agent-2", "offline", "cli-agents", { env: "dev" }],
    ]);
  });

  test("vigil agents show - one agent field by field; an unknown id is a 404 naming it", async () => {
    const lines = await run(() => showAgent(api, "cli-agent-1"));
    expect(lines[0]).toMatch(/^agent\s+cli-agent-1$/);
    expect(lines.find((line) => line.startsWith("hostname"))).toMatch(/^hostname\s+web-01$/);
    expect(lines.find((line) => line.startsWith("server"))).toMatch(
      /^server\s+cli-agents \(session session-cli-agent-1\)$/,
    );
    expect(lines.find((line) => line.startsWith("labels"))).toMatch(/^labels\s+env=prod$/);
    const json = JSON.parse((await run(() => showAgent({ ...api, json: true }, "cli-agent-1")))[0]);
    expect(json).toMatchObject({ agentId: "cli-agent-1", hostname: "web-01", status: "online" });
    await expect(showAgent(api, "no-such-agent")).rejects.toThrow(
      'API 404: no agent "no-such-agent" in the fleet registry',
    );
  });

  test("vigil agents - a bad token is a 401 that names where the token came from", async () => {
    await expect(
      listAgents({ ...api, token: "wrong-token-0123456789", tokenSource: "VIGIL_API_TOKEN" }),
    ).rejects.toThrow(
      /^API 401: .*; the token from VIGIL_API_TOKEN was not accepted by http:\/\/127\.0\.0\.1:\d+/,
    );
  });

  test("vigil agents - a fleet larger than one page is listed whole", async () => {
    for (let i = 0; i < 1003; i++) connect(`cli-page-${String(i).padStart(4, "0")}`, `host-${i}`);
    await waitFor(() => server.fleet.records().length === 1005, 10_000, "1005 records");
    const lines = await run(() => listAgents(api));
    expect(lines).toHaveLength(1006);
    expect(new Set(lines.slice(1).map((line) => line.split(/\s+/)[0])).size).toBe(1005);
  });
});
