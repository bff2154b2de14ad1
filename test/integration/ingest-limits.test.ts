import {
  type ClientDuplexStream,
  credentials,
  Metadata,
  makeGenericClientConstructor,
  type ServiceError,
  status,
} from "@grpc/grpc-js";
import {
  type Bus,
  type BusMessage,
  createMemoryBus,
  defaultStreams,
  EVENTS_STREAM,
  type MemoryBus,
  type PublishAck,
  silentLogger,
} from "@vigil/common";
import {
  AckStatus,
  type AgentMessage,
  AgentServiceClient,
  BusEventBatch,
  type Event,
  type ServerMessage,
} from "@vigil/proto";
import { serverConfigSchema, startVigilServer, type VigilServer } from "@vigil/server";
import { EXEC_CAT_SHADOW, SAMPLE_HELLO } from "../fixtures/sample-events";
import { waitFor } from "../harness/wait-for";

// The server's ingest limits over real gRPC, on the in-process bus: a bus that
// does not answer stops the reading of the stream (the agent's HTTP/2 window
// then stops it) instead of buffering; the server-wide in-flight byte bound
// holds across agents; an agent over its event rate is read more slowly, not
// dropped; an oversized message and a malformed one end only their own stream
// with an error that says what was wrong.

const TOKEN = "ingest-limits-agent-token-0123456789";
const logger = silentLogger();
const MAX_PENDING = 8;
const MAX_IN_FLIGHT = 1024 * 1024;

jest.setTimeout(60_000);

/** The memory bus with event publishes held until the test opens the gate. */
function gatedBus(inner: MemoryBus) {
  let open = true;
  let waiting: Array<() => void> = [];
  const bus = new Proxy(inner, {
    get(target, property, receiver) {
      if (property === "publish") {
        return async (
          subject: string,
          data: Uint8Array,
          options?: { msgId?: string },
        ): Promise<PublishAck> => {
          while (!open && subject.startsWith("vigil.events."))
            await new Promise<void>((go) => waiting.push(go));
          return target.publish(subject, data, options);
        };
      }
      const value = Reflect.get(target, property, receiver);
      return typeof value === "function" ? value.bind(target) : value;
    },
  }) as Bus;
  return {
    bus,
    close: () => {
      open = false;
    },
    open: () => {
      open = true;
      const released = waiting;
      waiting = [];
      for (const go of released) go();
    },
  };
}

let memory: MemoryBus;
let gate: ReturnType<typeof gatedBus>;
let server: VigilServer;
/** Events on the bus by agent id, and message ids seen (a batch stored twice would repeat one). */
const stored = new Map<string, number>();
const msgIds: string[] = [];

beforeAll(async () => {
  memory = createMemoryBus();
  await memory.ensureStreams(defaultStreams());
  await memory.consume(
    {
      stream: EVENTS_STREAM,
      durable: "ingest-limits-it",
      maxInFlight: 100,
      ackWaitMs: 10_000,
      maxDeliver: 5,
    },
    async (message: BusMessage) => {
      const batch = BusEventBatch.decode(message.data);
      stored.set(batch.agentId, (stored.get(batch.agentId) ?? 0) + batch.events.length);
      msgIds.push(message.msgId ?? "");
      await message.ack();
    },
  );
  gate = gatedBus(memory);
  server = await startVigilServer({
    config: serverConfigSchema.parse({
      serverId: "ingest-limits",
      grpc: {
        port: 0,
        agentToken: TOKEN,
        maxBatchBytes: 256 * 1024,
        maxBatchEvents: 1000,
        maxPendingMessagesPerStream: MAX_PENDING,
        maxInFlightBytes: MAX_IN_FLIGHT,
        agentEventsPerSecond: 2000,
        agentEventsBurst: 1000,
      },
      api: { port: 0, metricsPublic: true },
    }),
    bus: gate.bus,
    logger,
  });
});
afterEach(() => gate.open());
afterAll(async () => {
  gate?.open();
  await server?.close(0);
  await memory?.close();
});

/** A sample from the server's /metrics: `name` with every one of `labels` (0 when absent). */
async function metric(name: string, labels: Record<string, string> = {}): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${server.apiPort}/metrics`)).text();
  const wanted = Object.entries(labels).map(([key, value]) => `${key}="${value}"`);
  const line = text
    .split("\n")
    .find(
      (candidate) => candidate.startsWith(`${name}{`) && wanted.every((pair) => candidate.includes(pair)),
    );
  return line ? Number(line.slice(line.lastIndexOf(" ") + 1)) : 0;
}

function events(count: number, firstPid: number, argBytes = 0): Event[] {
  const base = EXEC_CAT_SHADOW.process as NonNullable<Event["process"]>;
  return Array.from({ length: count }, (_, i) => ({
    ...EXEC_CAT_SHADOW,
    process: { ...base, pid: firstPid + i, args: argBytes > 0 ? ["cat", "x".repeat(argBytes)] : base.args },
  }));
}

interface TestAgent {
  stream: ClientDuplexStream<AgentMessage, ServerMessage>;
  acks: Array<{ sequence: number; status: AckStatus; error: string }>;
  welcomed: Promise<void>;
  ended: Promise<ServiceError | undefined>;
  close(): void;
}

function connect(agentId: string): TestAgent {
  const client = new AgentServiceClient(`127.0.0.1:${server.grpcPort}`, credentials.createInsecure(), {
    "grpc.use_local_subchannel_pool": 1,
  });
  const metadata = new Metadata();
  metadata.set("authorization", `Bearer ${TOKEN}`);
  const stream = client.connect(metadata);
  const acks: TestAgent["acks"] = [];
  let welcome: () => void = () => undefined;
  const welcomed = new Promise<void>((resolve) => {
    welcome = resolve;
  });
  const ended = new Promise<ServiceError | undefined>((resolve) => {
    stream.on("error", (error: ServiceError) => resolve(error));
    stream.on("end", () => resolve(undefined));
  });
  stream.on("data", (message: ServerMessage) => {
    if (message.body?.$case === "welcome") welcome();
    if (message.body?.$case === "ack") acks.push(message.body.value);
  });
  stream.write({ body: { $case: "hello", value: { ...SAMPLE_HELLO, agentId } } });
  return {
    stream,
    acks,
    welcomed,
    ended,
    close: () => {
      stream.cancel();
      client.close();
    },
  };
}

function sendBatches(
  agent: TestAgent,
  count: number,
  perBatch: number,
  firstPid: number,
  argBytes = 0,
): void {
  for (let sequence = 1; sequence <= count; sequence++) {
    const value = { sequence, events: events(perBatch, firstPid + sequence * perBatch, argBytes) };
    agent.stream.write({ body: { $case: "batch", value } });
  }
}

describe("ingest limits - backpressure, rate, size, malformed input", () => {
  test("ingest limits - a bus that does not answer stops the reading: the backlog stays at its bound, nothing is acked, all is stored once after", async () => {
    gate.close();
    const agent = connect("limits-backlog");
    await agent.welcomed;
    sendBatches(agent, 200, 10, 1_000_000);
    await waitFor(
      async () => (await metric("vigil_server_acks_pending")) >= MAX_PENDING,
      10_000,
      "the stream's backlog at its bound",
    );
    expect(
      await metric("vigil_server_backpressure_pauses_total", { cause: "stream-backlog" }),
    ).toBeGreaterThan(0);
    // Held there while the bus is silent: not read further, nothing acked.
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await metric("vigil_server_acks_pending")).toBe(MAX_PENDING);
    expect(agent.acks).toHaveLength(0);

    gate.open();
    await waitFor(() => agent.acks.length === 200, 20_000, "all 200 batches acked");
    expect(agent.acks.every((ack) => ack.status === AckStatus.ACK_STATUS_STORED)).toBe(true);
    expect(agent.acks.map((ack) => ack.sequence)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
    await waitFor(() => stored.get("limits-backlog") === 2000, 5000, "2000 events on the bus");
    expect(new Set(msgIds).size).toBe(msgIds.length);
    expect(await metric("vigil_server_acks_pending")).toBe(0);
    agent.close();
  });

  test("ingest limits - the server-wide in-flight byte bound holds across agents, and releases them all", async () => {
    gate.close();
    const agents = ["limits-bytes-1", "limits-bytes-2", "limits-bytes-3"].map(connect);
    await Promise.all(agents.map((agent) => agent.welcomed));
    // ~100 KB batches: 1 MiB is reached long before any stream's backlog bound.
    for (const [index, agent] of agents.entries()) sendBatches(agent, 30, 4, 2_000_000 * (index + 1), 25_000);
    await waitFor(
      async () => (await metric("vigil_server_backpressure_pauses_total", { cause: "server-bytes" })) >= 1,
      10_000,
      "streams paused on the server-wide bound",
    );
    await new Promise((resolve) => setTimeout(resolve, 500));
    // Each stream may have one message read past the bound before it pauses.
    const held = await metric("vigil_server_in_flight_bytes");
    expect(held).toBeGreaterThanOrEqual(MAX_IN_FLIGHT);
    expect(held).toBeLessThanOrEqual(MAX_IN_FLIGHT + agents.length * 110_000);
    expect(await metric("vigil_server_acks_pending")).toBeLessThan(MAX_PENDING * agents.length);

    gate.open();
    await waitFor(() => agents.every((agent) => agent.acks.length === 30), 20_000, "every batch acked");
    for (const [index] of agents.entries()) {
      await waitFor(
        () => stored.get(`limits-bytes-${index + 1}`) === 120,
        5000,
        "120 events per agent stored",
      );
    }
    expect(await metric("vigil_server_in_flight_bytes")).toBe(0);
    for (const agent of agents) agent.close();
  });

  test("ingest limits - an agent over its event rate is read more slowly, and loses nothing", async () => {
    const pausesBefore = await metric("vigil_server_backpressure_pauses_total", { cause: "rate-limit" });
    const agent = connect("limits-rate");
    await agent.welcomed;
    // 6000 events against 2000/s with a burst of 1000.
    sendBatches(agent, 6, 1000, 3_000_000);
    await waitFor(() => agent.acks.length === 6, 20_000, "all 6 batches acked");
    expect(agent.acks.every((ack) => ack.status === AckStatus.ACK_STATUS_STORED)).toBe(true);
    expect(await metric("vigil_server_backpressure_pauses_total", { cause: "rate-limit" })).toBeGreaterThan(
      pausesBefore,
    );
    await waitFor(() => stored.get("limits-rate") === 6000, 5000, "6000 events on the bus");
    agent.close();
  });

  test("ingest limits - a batch with too many events is rejected with the limit named; the stream goes on", async () => {
    const agent = connect("limits-events");
    await agent.welcomed;
    agent.stream.write({ body: { $case: "batch", value: { sequence: 1, events: events(1001, 4_000_000) } } });
    agent.stream.write({ body: { $case: "batch", value: { sequence: 2, events: events(3, 4_100_000) } } });
    await waitFor(() => agent.acks.length === 2, 10_000, "both answered");
    expect(agent.acks[0]).toEqual({
      sequence: 1,
      status: AckStatus.ACK_STATUS_REJECTED,
      error: "batch has 1001 events; the limit is 1000",
    });
    expect(agent.acks[1].status).toBe(AckStatus.ACK_STATUS_STORED);
    agent.close();
  });

  test("ingest limits - an oversized message ends its stream with RESOURCE_EXHAUSTED naming the sizes", async () => {
    const agent = connect("limits-oversize");
    await agent.welcomed;
    agent.stream.write({
      body: { $case: "batch", value: { sequence: 1, events: events(12, 5_000_000, 25_000) } },
    });
    const error = await agent.ended;
    expect(error?.code).toBe(status.RESOURCE_EXHAUSTED);
    expect(error?.details).toMatch(/larger than max \(\d+ vs 262144\)/);
    expect(agent.acks).toHaveLength(0);
    agent.close();
  });

  test("ingest limits - a malformed message ends only its own stream, with INVALID_ARGUMENT saying so", async () => {
    const healthy = connect("limits-neighbour");
    await healthy.welcomed;
    // A client that writes raw bytes: field 2 (batch) with a length running past the end.
    const RawClient = makeGenericClientConstructor(
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
      "vigil.v1.AgentService",
    );
    const raw = new RawClient(`127.0.0.1:${server.grpcPort}`, credentials.createInsecure(), {
      "grpc.use_local_subchannel_pool": 1,
    });
    const metadata = new Metadata();
    metadata.set("authorization", `Bearer ${TOKEN}`);
    const stream = (raw as unknown as { connect(m: Metadata): ClientDuplexStream<Buffer, Buffer> }).connect(
      metadata,
    );
    const ended = new Promise<ServiceError>((resolve) => stream.on("error", resolve));
    stream.on("data", () => undefined);
    stream.write(Buffer.from([0x12, 0xff, 0xff, 0x03, 0x0a, 0x01]));
    const error = await ended;
    expect(error.code).toBe(status.INVALID_ARGUMENT);
    expect(error.details).toMatch(/^malformed AgentMessage \(6 bytes\): /);
    raw.close();
    expect(await metric("vigil_server_protocol_errors_total", { reason: "malformed-message" })).toBe(1);

    // The neighbour's stream never noticed.
    sendBatches(healthy, 3, 5, 6_000_000);
    await waitFor(() => healthy.acks.length === 3, 10_000, "the neighbour's batches acked");
    expect(healthy.acks.every((ack) => ack.status === AckStatus.ACK_STATUS_STORED)).toBe(true);
    healthy.close();
  });
});
