import { type Bus, createMemoryBus, silentLogger } from "@vigil/common";
import { identityFromHello, serverConfigSchema, startVigilServer, type VigilServer } from "@vigil/server";
import { SAMPLE_HELLO } from "../../../test/fixtures/sample-events";
import { waitFor } from "../../../test/harness/wait-for";
import { showAgents } from "./agents";

// `vigil agents` against an embedded-mode server (in-process bus and KV): the
// fleet registry read through the API, every page of it.

const TOKEN = "cli-agents-admin-token-0123456789";

describe("vigil agents - against an embedded server", () => {
  let bus: Bus;
  let server: VigilServer;
  let api: string;
  let printed: string[];

  async function run(json: boolean): Promise<string[]> {
    printed = [];
    await showAgents(api, TOKEN, json);
    return printed.join("").split("\n").filter(Boolean);
  }

  function connect(agentId: string, hostname: string): void {
    server.registry.connected(
      identityFromHello({ ...SAMPLE_HELLO, agentId, hostname }),
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
    api = `http://127.0.0.1:${server.apiPort}`;
    jest.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
      printed.push(String(chunk));
      return true;
    });
  });

  afterAll(async () => {
    jest.restoreAllMocks();
    await server?.close(0);
    await bus?.close();
  });

  test("one line per agent with hostname, status and server; --json prints the records", async () => {
    connect("cli-agent-1", "web-01");
    connect("cli-agent-2", "db-01");
    server.registry.disconnected("cli-agent-2", "session-cli-agent-2");
    await waitFor(() => server.fleet.get("cli-agent-2")?.state === "offline", 5000, "both records");
    const lines = await run(false);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^cli-agent-1\s+web-01\s+online\s+server cli-agents last seen /);
    expect(lines[1]).toMatch(/^cli-agent-2\s+db-01\s+offline\s+server cli-agents /);
    const records = (await run(true)).map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(records.map((r) => [r.agentId, r.status, r.groups])).toEqual([
      ["cli-agent-1", "online", ["web"]],
      ["cli-agent-2", "offline", ["web"]],
    ]);
  });

  test("a fleet larger than one page is listed whole", async () => {
    for (let i = 0; i < 1003; i++) connect(`cli-page-${String(i).padStart(4, "0")}`, `host-${i}`);
    await waitFor(() => server.fleet.records().length === 1005, 10_000, "1005 records");
    const lines = await run(false);
    expect(lines).toHaveLength(1005);
    expect(new Set(lines.map((line) => line.split(/\s+/)[0])).size).toBe(1005);
  });
});
