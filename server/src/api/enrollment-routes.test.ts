import { createMemoryBus, type MemoryBus, silentLogger } from "@vigil/common";
import { apiCall } from "../../../test/harness/servers-on-nats";
import { serverConfigSchema } from "../config";
import { startVigilServer, type VigilServer } from "../vigil-server";

// GET /api/v1/enrolled-agents pages like GET /api/v1/agents (limit/offset,
// total), with the page size bounded by the schema.

const logger = silentLogger();
const AGENTS = 7;
let bus: MemoryBus;
let server: VigilServer;

beforeAll(async () => {
  bus = createMemoryBus({ logger });
  server = await startVigilServer({
    config: serverConfigSchema.parse({
      serverId: "enrolled-paging",
      grpc: { port: 0 },
      api: { port: 0 },
      enrollment: { enabled: true },
    }),
    bus,
    logger,
  });
  const store = server.enrollment;
  if (!store) throw new Error("enrollment store missing");
  const { token } = await store.createToken({ kind: "fleet", label: "paging" });
  for (let i = 0; i < AGENTS; i++) {
    const outcome = await store.enroll(token, { agentId: `paging-${i}`, hostname: `host-${i}`, facts: {} });
    expect(outcome.ok).toBe(true);
  }
});

afterAll(async () => {
  await server?.close(0);
  await bus?.close();
});

const page = (query: string) => apiCall(server, "GET", `/api/v1/enrolled-agents${query}`);
const ids = (body: Record<string, unknown>) =>
  (body.agents as Array<{ agentId: string }>).map((a) => a.agentId);

describe("enrolled agents API - paging", () => {
  it("enrolled-agents - limit and offset select a page; total counts them all", async () => {
    const first = await page("?limit=3");
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ total: AGENTS, offset: 0, limit: 3, count: 3 });
    const last = await page("?limit=3&offset=6");
    expect(last.body).toMatchObject({ total: AGENTS, offset: 6, limit: 3, count: 1 });
    const past = await page("?limit=3&offset=50");
    expect(past.body).toMatchObject({ total: AGENTS, count: 0, agents: [] });
    // Without parameters: the first 100.
    const all = await page("");
    expect(all.body).toMatchObject({ total: AGENTS, offset: 0, limit: 100, count: AGENTS });
  });

  it("enrolled-agents - walking the pages yields every agent once, in the order of the whole list", async () => {
    const whole = ids((await page("?limit=1000")).body);
    const walked: string[] = [];
    for (let offset = 0; offset < AGENTS; offset += 2)
      walked.push(...ids((await page(`?limit=2&offset=${offset}`)).body));
    expect(walked).toEqual(whole);
    expect([...walked].sort()).toEqual(Array.from({ length: AGENTS }, (_, i) => `paging-${i}`));
  });

  it("enrolled-agents - a page size out of bounds, a negative offset or an unknown parameter is a 400 naming it", async () => {
    for (const [query, named] of [
      ["?limit=0", "limit"],
      ["?limit=1001", "limit"],
      ["?limit=ten", "limit"],
      ["?offset=-1", "offset"],
      ["?cursor=abc", "cursor"],
    ] as const) {
      const answer = await page(query);
      expect(answer.status).toBe(400);
      expect(JSON.stringify(answer.body)).toContain(named);
    }
  });
});
