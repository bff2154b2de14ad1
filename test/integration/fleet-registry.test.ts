import { credentials, Metadata, type ServiceError, status } from "@grpc/grpc-js";
import { type Bus, connectNatsBus, silentLogger } from "@vigil/common";
import { type AgentCounters, AgentServiceClient, type Hello, type ServerMessage } from "@vigil/proto";
import { serverConfigSchema, startVigilServer, type VigilServer } from "@vigil/server";
import { SAMPLE_HELLO } from "../fixtures/sample-events";
import { type NatsServerHandle, startNatsServer } from "../harness/nats-server";
import { type ApiAnswer, apiCall } from "../harness/servers-on-nats";
import { waitFor } from "../harness/wait-for";

// The fleet registry across server instances sharing one real NATS: agents
// (raw gRPC streams, so the test decides when they heartbeat) connect to one
// server and every server's API shows them; a clean disconnect is offline at
// once; a server that stops writing (its bus connection killed) has its
// agents shown offline by the others; an agent connected to two servers
// keeps only its newer stream; the API filters, pages and refuses bad input.

const TOKEN = "fleetreg-agent-token-0123456789";
const API_TOKEN = "fleetreg-api-token-0123456789";
const INTERVAL = 1000;
const logger = silentLogger();
jest.setTimeout(60_000);

let nats: NatsServerHandle;
const buses: Bus[] = [];
const servers: VigilServer[] = [];
const clients: AgentServiceClient[] = [];

async function startServer(serverId: string, url = nats.url): Promise<VigilServer> {
  const bus = await connectNatsBus({ servers: [url], name: serverId, logger });
  buses.push(bus);
  const server = await startVigilServer({
    config: serverConfigSchema.parse({
      serverId,
      grpc: { port: 0, agentToken: TOKEN, heartbeatIntervalMs: INTERVAL },
      api: { port: 0, token: API_TOKEN },
    }),
    bus,
    logger,
  });
  servers.push(server);
  return server;
}

interface RawAgent {
  /** Resolves with the status the server ended the stream with. */
  ended: Promise<ServiceError>;
  heartbeat(counters: Partial<AgentCounters>): void;
  cancel(): void;
}

/** A Connect stream past Welcome. */
async function connect(server: VigilServer, hello: Partial<Hello>): Promise<RawAgent> {
  const client = new AgentServiceClient(`127.0.0.1:${server.grpcPort}`, credentials.createInsecure());
  clients.push(client);
  const metadata = new Metadata();
  metadata.set("authorization", `Bearer ${TOKEN}`);
  const stream = client.connect(metadata);
  const ended = new Promise<ServiceError>((resolve) => stream.on("error", resolve));
  const welcome = new Promise<void>((resolve) =>
    stream.on("data", (message: ServerMessage) => {
      if (message.body?.$case === "welcome") resolve();
    }),
  );
  stream.write({ body: { $case: "hello", value: { ...SAMPLE_HELLO, ...hello } } });
  await welcome;
  return {
    ended,
    heartbeat: (counters) =>
      stream.write({
        body: {
          $case: "heartbeat",
          value: { timestampUs: Date.now() * 1000, counters: { ...COUNTERS, ...counters } },
        },
      }),
    cancel: () => stream.cancel(),
  };
}

const COUNTERS: AgentCounters = {
  eventsCollected: 0,
  eventsSent: 0,
  eventsDropped: 0,
  batchesSent: 0,
  batchesAcked: 0,
  batchesResent: 0,
  pendingBatches: 0,
  cpuPercent: 0,
  rssBytes: 0,
  droppedByReason: {},
  collectorCounters: {},
  config: undefined,
  agentVersion: "0.1.0",
  collectors: [],
  eventsPerSecond: {},
  spoolBytes: 0,
  oldestUnackedAgeMs: 0,
  governor: undefined,
  lastError: "",
  tasks: {},
};

function api(server: VigilServer, path: string): Promise<ApiAnswer> {
  return apiCall(server, "GET", path, { token: API_TOKEN });
}

interface AgentView {
  agentId: string;
  status: string;
  online: boolean;
  serverId: string;
  sessionId: string;
  hostname: string;
  groups: string[];
  labels: Record<string, string>;
  ips: string[];
  agentVersion: string;
  driverVersion: string;
  counters?: AgentCounters;
}

async function agent(server: VigilServer, agentId: string): Promise<AgentView | undefined> {
  const answer = await api(server, `/api/v1/agents/${agentId}`);
  return answer.status === 200 ? (answer.body as unknown as AgentView) : undefined;
}

beforeAll(async () => {
  nats = await startNatsServer();
});

afterAll(async () => {
  for (const client of clients) client.close();
  for (const server of servers) await server.close(0).catch(() => undefined);
  for (const bus of buses) await bus.close().catch(() => undefined);
  await nats?.stop();
});

describe("fleet registry - two servers on one NATS", () => {
  let a: VigilServer;
  let b: VigilServer;

  beforeAll(async () => {
    a = await startServer("fleet-a");
    b = await startServer("fleet-b");
  });

  test("an agent on A is shown by B with its Hello, heartbeat counters and server; a clean disconnect is offline at once", async () => {
    const raw = await connect(a, {
      agentId: "fleetreg-1",
      hostname: "db-07",
      groups: ["db"],
      labels: { env: "prod", tier: "data" },
      driverVersion: "1.2.3",
      ipAddresses: ["10.1.2.3"],
    });
    await waitFor(
      async () => (await agent(b, "fleetreg-1"))?.status === "online",
      10_000,
      "B to see fleetreg-1",
    );
    expect(await agent(b, "fleetreg-1")).toMatchObject({
      serverId: "fleet-a",
      hostname: "db-07",
      groups: ["db"],
      labels: { env: "prod", tier: "data" },
      driverVersion: "1.2.3",
      ips: ["10.1.2.3"],
      online: true,
    });
    raw.heartbeat({ eventsPerSecond: { exec: 12.5, network: 7.5 } });
    await waitFor(
      async () => (await agent(b, "fleetreg-1"))?.counters?.eventsPerSecond.exec === 12.5,
      10_000,
      "the heartbeat to reach B",
    );
    const stats = (await api(b, "/api/v1/fleet/stats")).body as {
      eventsPerSecond: number;
      byDriverVersion: Record<string, number>;
    };
    expect(stats.eventsPerSecond).toBeGreaterThanOrEqual(20);
    expect(stats.byDriverVersion["1.2.3"]).toBeGreaterThanOrEqual(1);
    raw.cancel();
    await waitFor(
      async () => (await agent(b, "fleetreg-1"))?.status === "offline",
      10_000,
      "B to see it offline",
    );
  });

  test("an agent connected to two servers keeps its newer stream; the older ends with ABORTED naming why", async () => {
    const old = await connect(a, { agentId: "fleetreg-2" });
    await waitFor(
      async () => (await agent(b, "fleetreg-2"))?.serverId === "fleet-a",
      10_000,
      "the stream on A",
    );
    const newer = await connect(b, { agentId: "fleetreg-2" });
    const ended = await old.ended;
    expect(ended.code).toBe(status.ABORTED);
    expect(ended.details).toContain("superseded");
    expect(ended.details).toContain("fleet-b");
    // The older stream's end does not mark the agent offline: the record is B's and stays online.
    await new Promise((resolve) => setTimeout(resolve, 300));
    for (const server of [a, b]) {
      expect(await agent(server, "fleetreg-2")).toMatchObject({ serverId: "fleet-b", status: "online" });
    }
    newer.heartbeat({});
    const live = await Promise.race([
      newer.ended.then(() => "ended"),
      new Promise((resolve) => setTimeout(resolve, INTERVAL, "open")),
    ]);
    expect(live).toBe("open");
    newer.cancel();
  });

  test("a silent agent whose stream stays open is kept alive by its server and shown stale, not offline", async () => {
    const silent = await connect(a, { agentId: "fleetreg-silent" });
    // Stale needs a record refreshed within 1.5 intervals and a last message older than 3.
    await waitFor(
      async () => (await agent(b, "fleetreg-silent"))?.status === "stale",
      15_000,
      "B to see the silent agent stale",
    );
    expect(await agent(b, "fleetreg-silent")).toMatchObject({ online: true, serverId: "fleet-a" });
    const stats = (await api(b, "/api/v1/fleet/stats")).body as { byStatus: Record<string, number> };
    expect(stats.byStatus.stale).toBeGreaterThanOrEqual(1);
    silent.heartbeat({});
    await waitFor(
      async () => (await agent(b, "fleetreg-silent"))?.status === "online",
      10_000,
      "a heartbeat to make it online again",
    );
    silent.cancel();
  });

  test("the API filters and pages the fleet; bad queries are 400 naming the field; an unknown agent is 404", async () => {
    const agents = [
      await connect(a, {
        agentId: "fleetreg-p1",
        hostname: "web-01",
        groups: ["web"],
        labels: { env: "prod" },
      }),
      await connect(a, {
        agentId: "fleetreg-p2",
        hostname: "web-02",
        groups: ["web"],
        labels: { env: "dev" },
      }),
      await connect(b, {
        agentId: "fleetreg-p3",
        hostname: "mail-01",
        groups: ["mail"],
        labels: { env: "prod" },
        agentVersion: "0.9.0",
      }),
    ];
    await waitFor(
      async () => ((await api(a, "/api/v1/agents?hostname=-0&status=online")).body.total as number) >= 3,
      10_000,
      "A to see the three agents",
    );
    const ids = async (query: string) =>
      ((await api(a, `/api/v1/agents?${query}`)).body.agents as AgentView[])
        .map((x) => x.agentId)
        .filter((id) => id.startsWith("fleetreg-p"));
    expect(await ids("hostname=WEB")).toEqual(["fleetreg-p1", "fleetreg-p2"]);
    expect(await ids("label=env%3Dprod&status=online")).toEqual(["fleetreg-p1", "fleetreg-p3"]);
    expect(await ids("group=mail")).toEqual(["fleetreg-p3"]);
    expect(await ids("version=0.9.0")).toEqual(["fleetreg-p3"]);
    expect(await ids("server=fleet-b&status=online")).toEqual(["fleetreg-p3"]);
    const page1 = (await api(a, "/api/v1/agents?hostname=-0&status=online&limit=2")).body;
    const page2 = (await api(a, "/api/v1/agents?hostname=-0&status=online&limit=2&offset=2")).body;
    expect(page1).toMatchObject({ total: 3, count: 2, limit: 2, offset: 0 });
    expect(page2).toMatchObject({ total: 3, count: 1, offset: 2 });
    const all = [...(page1.agents as AgentView[]), ...(page2.agents as AgentView[])].map((x) => x.agentId);
    expect(all).toEqual(["fleetreg-p1", "fleetreg-p2", "fleetreg-p3"]);

    for (const [query, field] of [
      ["status=sleeping", "querystring.status"],
      ["limit=0", "querystring.limit"],
      ["limit=5000", "querystring.limit"],
      ["label=noequals", "querystring.label"],
      ["offset=-1", "querystring.offset"],
      ["colour=red", "querystring.colour"],
    ]) {
      const answer = await api(a, `/api/v1/agents?${query}`);
      expect(answer.status).toBe(400);
      expect(answer.body.message).toContain(field);
    }
    const missing = await api(a, "/api/v1/agents/no-such-agent");
    expect(missing.status).toBe(404);
    expect(missing.body.message).toContain("no-such-agent");
    for (const raw of agents) raw.cancel();
  });
});

describe("fleet registry - a server that stops writing", () => {
  test("its agents are shown offline by the other server once their records age out", async () => {
    const doomed = await startServer("fleet-doomed");
    const survivor = await startServer("fleet-survivor");
    await connect(doomed, { agentId: "fleetreg-orphan" });
    await waitFor(
      async () => (await agent(survivor, "fleetreg-orphan"))?.status === "online",
      10_000,
      "the survivor to see the agent",
    );
    // The doomed server loses NATS for good: no offline write, no refresh.
    const doomedBus = buses[buses.length - 2];
    await doomedBus.close();
    await waitFor(
      async () => (await agent(survivor, "fleetreg-orphan"))?.status === "offline",
      10_000,
      "the survivor to see the orphaned agent offline",
    );
    const view = await agent(survivor, "fleetreg-orphan");
    // Offline by age: the record still says online and names the dead server.
    expect(view).toMatchObject({ serverId: "fleet-doomed", online: false });
  });
});

describe("fleet registry - NATS killed and restarted", () => {
  test("records are written again once NATS is back: the other server sees the agent online, refreshed after the restart", async () => {
    const own = await startNatsServer();
    try {
      const writer = await startServer("fleet-outage-a", own.url);
      const reader = await startServer("fleet-outage-b", own.url);
      const raw = await connect(writer, { agentId: "fleetreg-outage" });
      await waitFor(
        async () => (await agent(reader, "fleetreg-outage"))?.status === "online",
        10_000,
        "online",
      );
      await own.kill9();
      await own.restart();
      const restartedMs = Date.now();
      await waitFor(
        async () => {
          const view = await agent(reader, "fleetreg-outage");
          return (
            view?.status === "online" &&
            (view as unknown as { refreshedMs: number }).refreshedMs > restartedMs
          );
        },
        30_000,
        "the record rewritten after the restart",
      );
      raw.heartbeat({ eventsPerSecond: { exec: 3 } });
      await waitFor(
        async () => (await agent(reader, "fleetreg-outage"))?.counters?.eventsPerSecond.exec === 3,
        10_000,
        "a heartbeat after the restart to reach the reader",
      );
      raw.cancel();
    } finally {
      for (const server of servers.splice(-2)) await server.close(0).catch(() => undefined);
      for (const bus of buses.splice(-2)) await bus.close().catch(() => undefined);
      await own.stop();
    }
  });
});
