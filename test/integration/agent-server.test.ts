import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { credentials, Metadata, makeGenericClientConstructor, type ServiceError } from "@grpc/grpc-js";
import { type AgentConfig, agentConfigSchema, VigilAgent } from "@vigil/agent";
import {
  type BusMessage,
  createMemoryBus,
  defaultStreams,
  EVENTS_STREAM,
  type MemoryBus,
  silentLogger,
} from "@vigil/common";
import { AgentServiceClient, BusEventBatch, type ServerMessage } from "@vigil/proto";
import { serverConfigSchema, startVigilServer, type VigilServer } from "@vigil/server";
import { EXEC_CAT_SHADOW, SAMPLE_HELLO } from "../fixtures/sample-events";
import { ManualCollector } from "../harness/manual-collector";
import { freeLoopbackPort as freePort } from "../harness/nats-server";
import { waitFor } from "../harness/wait-for";

const TOKEN = "integration-test-token-0123456789";
const logger = silentLogger();

/** A collector the test drives by hand. */
async function startServer(bus: MemoryBus, grpcPort: number): Promise<VigilServer> {
  const config = serverConfigSchema.parse({
    serverId: "it-server",
    grpc: { port: grpcPort, agentToken: TOKEN, helloTimeoutMs: 2000 },
    api: { port: 0 },
  });
  return startVigilServer({ config, bus, logger });
}

/** Each agent spools on disk in a temp state directory of its own. */
function agentConfig(grpcPort: number): AgentConfig {
  return agentConfigSchema.parse({
    agentId: "it-agent-1",
    stateDir: mkdtempSync(join(tmpdir(), "vigil-it-agent-")),
    servers: [`127.0.0.1:${grpcPort}`],
    token: TOKEN,
    batch: { maxEvents: 10, flushIntervalMs: 20 },
    transport: { backoffInitialMs: 50, backoffMaxMs: 200, ackTimeoutMs: 2000 },
  });
}

/** Collects every event pid that reached the bus, acking as the hub would. */
async function collectFromBus(bus: MemoryBus): Promise<{ pids: number[]; batches: number }> {
  const seen = { pids: [] as number[], batches: 0 };
  await bus.ensureStreams(defaultStreams());
  await bus.consume(
    { stream: EVENTS_STREAM, durable: "it-reader", maxInFlight: 100, ackWaitMs: 5000, maxDeliver: 5 },
    async (message: BusMessage) => {
      const batch = BusEventBatch.decode(message.data);
      seen.batches++;
      for (const event of batch.events) seen.pids.push(event.process?.pid ?? -1);
      await message.ack();
    },
  );
  return seen;
}

const host = {
  hostname: "it-host",
  osName: "Debian GNU/Linux",
  osVersion: "12",
  kernelRelease: "6.1.0",
  architecture: "x64",
  ipAddresses: [],
};

describe("agent ↔ server - gRPC stream with acks", () => {
  // Stopped after each test even when an assertion failed, so a failure does
  // not leave a stream open that keeps jest from exiting.
  let running: { agent?: VigilAgent; server?: VigilServer; bus?: MemoryBus } = {};
  afterEach(async () => {
    await running.agent?.stop(0);
    await running.server?.close(0);
    await running.bus?.close();
    running = {};
  });

  test("events flow to the bus and every batch is acked", async () => {
    const bus = createMemoryBus();
    const port = await freePort();
    const server = await startServer(bus, port);
    const seen = await collectFromBus(bus);
    const collector = new ManualCollector();
    const agent = new VigilAgent({
      config: agentConfig(port),
      agentId: "it-agent-1",
      host,
      collectors: [collector],
      logger,
    });
    running = { agent, server, bus };
    await agent.start();
    collector.emit(95, 10_000);
    agent.flush();
    expect(await agent.link.whenDrained(5000)).toBe(true);
    await waitFor(() => seen.pids.length === 95, 5000, "95 events on the bus");
    // Each pid's first event may wait (context.hashWaitMs) for its executable's
    // hash and leave in a later batch than flush() sent: wait for its ack too.
    await waitFor(() => agent.counters().pendingBatches === 0, 5000, "the last batch acked");
    expect(new Set(seen.pids).size).toBe(95);
    expect(agent.counters()).toMatchObject({
      eventsCollected: 95,
      eventsSent: 95,
      pendingBatches: 0,
      batchesResent: 0,
    });
    expect(server.registry.get("it-agent-1")).toMatchObject({
      online: true,
      hostname: "it-host",
      eventsReceived: 95,
    });
    running = {};
    await agent.stop(1000);
    await server.close();
    await bus.close();
  });

  test("batches made while no server is up, or while it restarts, are resent in order and none is lost or doubled", async () => {
    const bus = createMemoryBus();
    const port = await freePort();
    const seen = await collectFromBus(bus);
    const collector = new ManualCollector();
    const agent = new VigilAgent({
      config: agentConfig(port),
      agentId: "it-agent-2",
      host,
      collectors: [collector],
      logger,
    });
    running = { agent, bus };
    await agent.start();
    collector.emit(40, 20_000); // no server yet
    agent.flush();
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(agent.link.pendingBatches()).toBeGreaterThan(0);

    let server = await startServer(bus, port);
    running.server = server;
    expect(await agent.link.whenDrained(10_000)).toBe(true);
    await server.close(0); // server goes away
    collector.emit(40, 30_000);
    agent.flush();
    await new Promise((resolve) => setTimeout(resolve, 300));
    server = await startServer(bus, port); // and comes back on the same port
    running.server = server;
    expect(await agent.link.whenDrained(10_000)).toBe(true);
    await waitFor(() => seen.pids.length >= 80, 5000, "80 events on the bus");
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(seen.pids).toHaveLength(80);
    expect(seen.pids.sort((a, b) => a - b)).toEqual([
      ...Array.from({ length: 40 }, (_, i) => 20_000 + i),
      ...Array.from({ length: 40 }, (_, i) => 30_000 + i),
    ]);
    expect(agent.link.counters.connects).toBeGreaterThanOrEqual(2);
    running = {};
    await agent.stop(1000);
    await server.close();
    await bus.close();
  });
});

describe("server ingress - bad peers get a clear status and the server keeps serving", () => {
  let bus: MemoryBus;
  let server: VigilServer;
  let address: string;

  beforeAll(async () => {
    bus = createMemoryBus();
    server = await startServer(bus, await freePort());
    address = `127.0.0.1:${server.grpcPort}`;
  });
  afterAll(async () => {
    await server.close();
    await bus.close();
  });

  function openStream(token: string | undefined) {
    const client = new AgentServiceClient(address, credentials.createInsecure());
    const metadata = new Metadata();
    if (token) metadata.set("authorization", `Bearer ${token}`);
    return { client, stream: client.connect(metadata) };
  }

  function statusOf(stream: ReturnType<typeof openStream>["stream"]): Promise<ServiceError> {
    return new Promise((resolve) => {
      stream.on("data", () => undefined);
      stream.on("error", (error: ServiceError) => resolve(error));
    });
  }

  test("a stream without the token is refused with UNAUTHENTICATED", async () => {
    const { client, stream } = openStream(undefined);
    const status = statusOf(stream);
    stream.write({ body: { $case: "hello", value: SAMPLE_HELLO } });
    expect((await status).code).toBe(16);
    client.close();
  });

  test("a wrong token is refused too", async () => {
    const { client, stream } = openStream("wrong-token-wrong-token-wrong");
    const status = statusOf(stream);
    stream.write({ body: { $case: "hello", value: SAMPLE_HELLO } });
    expect((await status).code).toBe(16);
    client.close();
  });

  test("a batch before Hello is FAILED_PRECONDITION", async () => {
    const { client, stream } = openStream(TOKEN);
    const status = statusOf(stream);
    stream.write({ body: { $case: "batch", value: { sequence: 1, events: [] } } });
    const error = await status;
    expect(error.code).toBe(9);
    expect(error.details).toContain("before Hello");
    client.close();
  });

  test("an agent id that cannot be a subject token is INVALID_ARGUMENT naming the field", async () => {
    const { client, stream } = openStream(TOKEN);
    const status = statusOf(stream);
    stream.write({ body: { $case: "hello", value: { ...SAMPLE_HELLO, agentId: "bad.id>*" } } });
    const error = await status;
    expect(error.code).toBe(3);
    expect(error.details).toContain("agent_id");
    client.close();
  });

  test("bytes that are not an AgentMessage end only that stream", async () => {
    const Raw = makeGenericClientConstructor(
      {
        connect: {
          path: "/vigil.v1.AgentService/Connect",
          requestStream: true,
          responseStream: true,
          requestSerialize: (value: Buffer) => value,
          requestDeserialize: (value: Buffer) => value,
          responseSerialize: (value: Buffer) => value,
          responseDeserialize: (value: Buffer) => value,
        },
      },
      "AgentService",
    );
    const client = new Raw(address, credentials.createInsecure()) as unknown as {
      connect(
        metadata: Metadata,
      ): NodeJS.ReadWriteStream & { on(event: "error", cb: (e: ServiceError) => void): void };
      close(): void;
    };
    const metadata = new Metadata();
    metadata.set("authorization", `Bearer ${TOKEN}`);
    const stream = client.connect(metadata);
    const status = new Promise<ServiceError>((resolve) => stream.on("error", resolve));
    stream.on("data", () => undefined);
    stream.write(Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01]));
    expect((await status).code).toBeGreaterThan(0);
    client.close();
    // The server still serves a well-behaved agent.
    const good = openStream(TOKEN);
    const welcome = new Promise<unknown>((resolve) => good.stream.on("data", resolve));
    good.stream.write({ body: { $case: "hello", value: SAMPLE_HELLO } });
    expect(await welcome).toMatchObject({ body: { $case: "welcome" } });
    good.stream.on("error", () => undefined); // the cancel below surfaces as CANCELLED
    good.stream.cancel();
    good.client.close();
  });

  test("a batch over the event limit is rejected with a reason, not published", async () => {
    const { client, stream } = openStream(TOKEN);
    const messages: ServerMessage[] = [];
    stream.on("data", (message) => messages.push(message));
    stream.on("error", () => undefined);
    stream.write({ body: { $case: "hello", value: { ...SAMPLE_HELLO, agentId: "it-agent-big" } } });
    const events = Array.from({ length: 5001 }, () => EXEC_CAT_SHADOW);
    stream.write({ body: { $case: "batch", value: { sequence: 7, events } } });
    // Welcome, then the agent policy (ConfigUpdate), then the ack.
    await waitFor(() => messages.some((message) => message.body?.$case === "ack"), 5000, "ack");
    expect(messages.map((message) => message.body?.$case)).toEqual(["welcome", "config", "ack"]);
    expect(messages[2]).toMatchObject({ body: { $case: "ack", value: { sequence: 7, status: 3 } } });
    expect(JSON.stringify(messages[2])).toContain("limit is 5000");
    stream.cancel();
    client.close();
  });
});
