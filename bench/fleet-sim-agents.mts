// Agents side of the fleet simulator (bench/fleet-sim.mts), run as child
// processes so the server's CPU and memory are measured without them. Not a
// bench itself. Each simulated agent behaves like vigil-agent on the wire:
// its own HTTP/2 connection, Hello → Welcome, heartbeats at the interval the
// server gives, batches of the bench event mix at a set rate with a window of
// unacked batches, and on a lost stream it reconnects with jittered backoff to
// the next server in its rendezvous order (the failed one passed over for a
// cooldown) and resends every unacked batch with its sequence, so the bus's
// dedup keeps each batch once. Servers come from a static list or from Consul
// (one watch per process, the agents' ConsulServerSource).
import { type ClientDuplexStream, credentials, Metadata, makeGenericClientConstructor } from "@grpc/grpc-js";
import { ConsulServerSource, rendezvousOrder, type ServerCandidate } from "@vigil/agent";
import { ConsulClient, resolveConsulConnection, silentLogger } from "@vigil/common";
import { AgentMessage, AgentServiceService, Event, type ServerMessage } from "@vigil/proto";
import { eventMix, toEvents } from "./bench-util.mts";

export interface FleetAgentsParams {
  /** Agent ids are `${prefix}-${index}` for index in [first, first + count). */
  prefix: string;
  first: number;
  count: number;
  token: string;
  servers?: string[];
  consul?: { url: string; service: string };
  /** Events per second per agent while generating. */
  rate: number;
  /** A batch every this many ms per agent (the agent's flush interval). */
  batchIntervalMs: number;
  /** Unacked batches per stream (the agent's maxInFlightBatches). */
  window: number;
  /** New connections per second while ramping up. */
  connectPerSecond: number;
}

export type FleetAgentsCommand =
  | { type: "generate"; on: boolean }
  | { type: "report"; resetLatency: boolean }
  | { type: "close" };

export interface FleetAgentsReport {
  type: "report";
  agents: number;
  welcomed: number;
  byServer: Record<string, number>;
  generatedEvents: number;
  ackedEvents: number;
  /** Batches generated but not yet acked (waiting, in flight, or to resend). */
  unackedBatches: number;
  notStored: number;
  reconnects: number;
  /** Ack latencies (ms) sampled since the last reset. */
  latencyMs: number[];
}

type Stream = ClientDuplexStream<Buffer, ServerMessage>;

const TICK_MS = 20;
const LATENCY_SAMPLES = 20_000;
const FAILED_COOLDOWN_MS = 30_000;

const RawAgentClient = makeGenericClientConstructor(
  {
    connect: {
      ...AgentServiceService.connect,
      requestSerialize: (value: Buffer): Buffer => value,
    },
  },
  "vigil.v1.AgentService",
);

function varint(value: number): number[] {
  const bytes: number[] = [];
  while (value >= 0x80) {
    bytes.push((value % 0x80) | 0x80);
    value = Math.floor(value / 0x80);
  }
  bytes.push(value);
  return bytes;
}

/** A length-delimited field (tag byte + length + bytes). */
function field(tag: number, bytes: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from([tag, ...varint(bytes.byteLength)]), bytes]);
}

/** The event mix, each as an encoded EventBatch.events entry, so a batch is a concatenation. */
const EVENT_ENTRIES = toEvents(eventMix(2000, 0.01)).map((event) =>
  field(0x12, Event.encode(event).finish()),
);

/** AgentMessage{batch: EventBatch{sequence, events}} from the pre-encoded entries. */
function encodeBatch(sequence: number, events: number, offset: number): Buffer {
  const parts: Buffer[] = [Buffer.from([0x08, ...varint(sequence)])];
  for (let i = 0; i < events; i++) parts.push(EVENT_ENTRIES[(offset + i) % EVENT_ENTRIES.length]);
  return field(0x12, Buffer.concat(parts));
}

interface PendingBatch {
  sequence: number;
  events: number;
  bytes: Buffer;
  sentAt: number;
}

class SimAgent {
  private sequence = 0;
  private readonly pending: PendingBatch[] = [];
  private inFlight = 0;
  private stream: Stream | undefined;
  private client: InstanceType<typeof RawAgentClient> | undefined;
  private readonly failedUntil = new Map<string, number>();
  private failures = 0;
  private retryAt = 0;
  private heartbeatEveryMs = 0;
  private nextHeartbeatAt = 0;
  server: string | undefined;
  welcomed = false;
  generated = 0;
  acked = 0;
  notStored = 0;
  reconnects = 0;

  readonly id: string;
  private readonly fleet: Fleet;

  constructor(id: string, fleet: Fleet) {
    this.id = id;
    this.fleet = fleet;
  }

  unackedBatches(): number {
    return this.pending.length;
  }

  generate(events: number): void {
    this.sequence++;
    const offset = (this.sequence * 7919 + this.id.length) % EVENT_ENTRIES.length;
    this.pending.push({
      sequence: this.sequence,
      events,
      bytes: encodeBatch(this.sequence, events, offset),
      sentAt: 0,
    });
    this.generated += events;
    this.pump();
  }

  /** Called every tick: connect when due, heartbeat when due. */
  tick(now: number): void {
    if (!this.stream && now >= this.retryAt && this.fleet.mayConnect()) this.connect(now);
    if (this.welcomed && this.heartbeatEveryMs > 0 && now >= this.nextHeartbeatAt) {
      this.nextHeartbeatAt = now + this.heartbeatEveryMs;
      const heartbeat = { timestampUs: now * 1000, counters: undefined };
      this.stream?.write(
        Buffer.from(AgentMessage.encode({ body: { $case: "heartbeat", value: heartbeat } }).finish()),
      );
    }
  }

  /** Leaves its server (gone from Consul's healthy set): reconnects elsewhere at once. */
  leaveIf(healthy: ReadonlySet<string>): void {
    if (this.server && this.stream && !healthy.has(this.server)) this.stream.cancel();
  }

  close(): void {
    this.stream?.cancel();
    this.client?.close();
  }

  private choose(now: number): string | undefined {
    const ranked = rendezvousOrder(this.id, this.fleet.candidates());
    const usable = ranked.find((candidate) => (this.failedUntil.get(candidate.address) ?? 0) <= now);
    return (usable ?? ranked[0])?.address;
  }

  private connect(now: number): void {
    const server = this.choose(now);
    if (!server) {
      this.retryAt = now + 500;
      return;
    }
    this.server = server;
    const client = new RawAgentClient(server, credentials.createInsecure(), {
      "grpc.use_local_subchannel_pool": 1,
      "grpc.keepalive_time_ms": 30_000,
    });
    const metadata = new Metadata();
    metadata.set("authorization", `Bearer ${this.fleet.params.token}`);
    const stream = (client as unknown as { connect(metadata: Metadata): Stream }).connect(metadata);
    this.client = client;
    this.stream = stream;
    let ended = false;
    const end = () => {
      if (ended) return;
      ended = true;
      const lived = this.welcomed;
      this.welcomed = false;
      this.stream = undefined;
      this.client = undefined;
      client.close();
      // Unacked batches go out again, with their sequences, on the next stream.
      this.inFlight = 0;
      const at = Date.now();
      this.failures = lived ? 0 : this.failures + 1;
      this.failedUntil.set(server, at + FAILED_COOLDOWN_MS);
      const ceiling = Math.min(5000, 100 * 2 ** Math.min(this.failures, 6));
      this.retryAt = at + ceiling / 2 + Math.random() * (ceiling / 2);
      this.reconnects++;
    };
    stream.on("data", (message: ServerMessage) => {
      const body = message.body;
      if (!body) return;
      if (body.$case === "welcome") {
        this.welcomed = true;
        this.failedUntil.delete(server);
        this.heartbeatEveryMs = Math.max(1000, body.value.heartbeatIntervalMs);
        this.nextHeartbeatAt = Date.now() + Math.random() * this.heartbeatEveryMs;
        this.pump();
      } else if (body.$case === "ack") {
        this.onAck(body.value.sequence, body.value.status);
      } else if (body.$case === "drain") {
        stream.cancel();
      }
    });
    stream.on("error", end);
    stream.on("end", end);
    stream.write(
      Buffer.from(
        AgentMessage.encode({
          body: {
            $case: "hello",
            value: {
              agentId: this.id,
              hostname: `${this.id}.fleet.bench`,
              osName: "Debian GNU/Linux",
              osVersion: "12",
              kernelRelease: "6.1.0-28-amd64",
              architecture: "x86_64",
              agentVersion: "0.1.0",
              collectors: ["driver"],
              capabilities: [],
              ipAddresses: ["10.0.0.5"],
              labels: {},
              groups: [],
              driverVersion: "",
              lastAckedSequence: 0,
            },
          },
        }).finish(),
      ),
    );
  }

  private onAck(sequence: number, status: number): void {
    const index = this.pending.findIndex((batch) => batch.sequence === sequence);
    if (index < 0) return;
    const [batch] = this.pending.splice(index, 1);
    this.inFlight--;
    this.acked += batch.events;
    if (status !== 1 && status !== 2) this.notStored++;
    this.fleet.latency(Date.now() - batch.sentAt);
    this.pump();
  }

  private pump(): void {
    if (!this.welcomed || !this.stream) return;
    while (this.inFlight < this.fleet.params.window && this.inFlight < this.pending.length) {
      const batch = this.pending[this.inFlight];
      batch.sentAt = Date.now();
      this.inFlight++;
      this.stream.write(batch.bytes);
    }
  }
}

class Fleet {
  readonly agents: SimAgent[] = [];
  private generating = false;
  private tick = 0;
  private connectBudget = 0;
  private latencies: number[] = [];
  private latencySeen = 0;
  private source: ConsulServerSource | undefined;
  private readonly timer: NodeJS.Timeout;

  readonly params: FleetAgentsParams;

  constructor(params: FleetAgentsParams) {
    this.params = params;
    for (let i = 0; i < params.count; i++)
      this.agents.push(new SimAgent(`${params.prefix}-${params.first + i}`, this));
    this.timer = setInterval(() => this.onTick(), TICK_MS);
  }

  async start(): Promise<void> {
    if (!this.params.consul) return;
    this.source = new ConsulServerSource({
      client: new ConsulClient(resolveConsulConnection({ address: this.params.consul.url })),
      service: this.params.consul.service,
      tags: [],
      waitMs: 30_000,
      minIntervalMs: 50,
      backoffInitialMs: 100,
      backoffMaxMs: 1000,
      logger: silentLogger(),
    });
    this.source.onChange((servers) => {
      const healthy = new Set(servers.map((server) => server.address));
      if (healthy.size > 0) for (const agent of this.agents) agent.leaveIf(healthy);
    });
    await this.source.start();
  }

  candidates(): readonly ServerCandidate[] {
    if (this.source) return this.source.current();
    return (this.params.servers ?? []).map((address) => ({ address, origin: "static" }));
  }

  mayConnect(): boolean {
    if (this.connectBudget <= 0) return false;
    this.connectBudget--;
    return true;
  }

  latency(ms: number): void {
    // Reservoir sampling: a fair sample of every ack since the last reset.
    this.latencySeen++;
    if (this.latencies.length < LATENCY_SAMPLES) this.latencies.push(ms);
    else {
      const slot = Math.floor(Math.random() * this.latencySeen);
      if (slot < LATENCY_SAMPLES) this.latencies[slot] = ms;
    }
  }

  setGenerating(on: boolean): void {
    this.generating = on;
  }

  report(resetLatency: boolean): FleetAgentsReport {
    const byServer: Record<string, number> = {};
    let welcomed = 0;
    let generatedEvents = 0;
    let ackedEvents = 0;
    let unackedBatches = 0;
    let notStored = 0;
    let reconnects = 0;
    for (const agent of this.agents) {
      if (agent.welcomed && agent.server) {
        welcomed++;
        byServer[agent.server] = (byServer[agent.server] ?? 0) + 1;
      }
      generatedEvents += agent.generated;
      ackedEvents += agent.acked;
      unackedBatches += agent.unackedBatches();
      notStored += agent.notStored;
      reconnects += agent.reconnects;
    }
    const latencyMs = this.latencies;
    if (resetLatency) {
      this.latencies = [];
      this.latencySeen = 0;
    }
    return {
      type: "report",
      agents: this.agents.length,
      welcomed,
      byServer,
      generatedEvents,
      ackedEvents,
      unackedBatches,
      notStored,
      reconnects,
      latencyMs,
    };
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    for (const agent of this.agents) agent.close();
    await this.source?.stop();
  }

  private onTick(): void {
    const now = Date.now();
    this.tick++;
    this.connectBudget = Math.max(1, Math.round((this.params.connectPerSecond * TICK_MS) / 1000));
    const ticksPerBatch = Math.max(1, Math.round(this.params.batchIntervalMs / TICK_MS));
    const perBatch = Math.max(1, Math.round((this.params.rate * ticksPerBatch * TICK_MS) / 1000));
    for (let i = 0; i < this.agents.length; i++) {
      const agent = this.agents[i];
      agent.tick(now);
      // Agents flush at staggered phases, like hosts that did not start together.
      if (this.generating && (this.tick + i) % ticksPerBatch === 0) agent.generate(perBatch);
    }
  }
}

const params = JSON.parse(process.argv[2] ?? "{}") as FleetAgentsParams;
const fleet = new Fleet(params);
await fleet.start();
process.on("message", (command: FleetAgentsCommand) => {
  switch (command.type) {
    case "generate":
      fleet.setGenerating(command.on);
      return;
    case "report":
      process.send?.(fleet.report(command.resetLatency));
      return;
    case "close":
      void fleet.close().then(() => process.disconnect?.());
      return;
    default: {
      const unreachable: never = command;
      return unreachable;
    }
  }
});
