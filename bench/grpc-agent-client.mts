// Agent side of the server-ingest bench, run as a child process (fork) so the
// server's CPU time is measured without the client in it. Not a bench itself.
//   stream: one agent stream sending batches of `batchEvents` with up to
//           `window` unacked; tells the parent when the measured period
//           starts and ends (events acked in between).
//   idle:   `count` agents, each on its own connection, Hello only; tells the
//           parent when all are welcomed and waits to be told to close.
import { type ClientDuplexStream, credentials, Metadata } from "@grpc/grpc-js";
import {
  AckStatus,
  type AgentMessage,
  AgentServiceClient,
  type Event,
  type Hello,
  type ServerMessage,
} from "@vigil/proto";
import { eventMix, toEvents } from "./bench-util.mts";

export interface StreamClientParams {
  mode: "stream";
  port: number;
  token: string;
  agentId: string;
  warmupSeconds: number;
  seconds: number;
  window: number;
  batchEvents: number;
}

export interface IdleClientParams {
  mode: "idle";
  port: number;
  token: string;
  count: number;
}

export type ClientReport =
  | { type: "measure-start" }
  | { type: "measure-end"; events: number; batches: number; seconds: number; notStored: number }
  | { type: "ready"; streams: number }
  | { type: "error"; message: string };

type Stream = ClientDuplexStream<AgentMessage, ServerMessage>;

const send = (message: ClientReport): void => {
  process.send?.(message);
};

function hello(agentId: string): Hello {
  return {
    agentId,
    hostname: `${agentId}.bench`,
    osName: "Debian GNU/Linux",
    osVersion: "12",
    kernelRelease: "6.1.0-28-amd64",
    architecture: "x86_64",
    agentVersion: "0.1.0",
    collectors: ["ftrace"],
    capabilities: [],
    ipAddresses: ["10.0.0.5"],
    labels: {},
    groups: [],
    driverVersion: "",
    lastAckedSequence: 0,
  };
}

function open(
  port: number,
  token: string,
  ownConnection: boolean,
): { client: AgentServiceClient; stream: Stream } {
  const client = new AgentServiceClient(
    `127.0.0.1:${port}`,
    credentials.createInsecure(),
    ownConnection ? { "grpc.use_local_subchannel_pool": 1 } : {},
  );
  const metadata = new Metadata();
  metadata.set("authorization", `Bearer ${token}`);
  return { client, stream: client.connect(metadata) };
}

async function runStream(params: StreamClientParams): Promise<void> {
  const events = toEvents(eventMix(20 * params.batchEvents, 0.01));
  const pool: Event[][] = [];
  for (let start = 0; start < events.length; start += params.batchEvents)
    pool.push(events.slice(start, start + params.batchEvents));
  const { client, stream } = open(params.port, params.token, false);
  const sizes = new Map<number, number>();
  let sequence = 0;
  let inFlight = 0;
  let acked = 0;
  let ackedBatches = 0;
  let notStored = 0;
  let phase: "warmup" | "measure" | "drain" = "warmup";
  let measureStartedAt = 0n;
  let ackedAtStart = 0;
  let batchesAtStart = 0;
  const started = process.hrtime.bigint();

  const pump = (): void => {
    while (phase !== "drain" && inFlight < params.window) {
      sequence++;
      const batch = pool[sequence % pool.length];
      sizes.set(sequence, batch.length);
      inFlight++;
      stream.write({ body: { $case: "batch", value: { sequence, events: batch } } });
    }
  };
  const done = new Promise<void>((resolve, reject) => {
    stream.on("data", (message: ServerMessage) => {
      const body = message.body;
      if (body?.$case === "welcome") {
        pump();
        return;
      }
      if (body?.$case !== "ack") return;
      inFlight--;
      acked += sizes.get(body.value.sequence) ?? 0;
      ackedBatches++;
      sizes.delete(body.value.sequence);
      if (body.value.status !== AckStatus.ACK_STATUS_STORED) notStored++;
      const now = process.hrtime.bigint();
      if (phase === "warmup" && now - started >= BigInt(Math.round(params.warmupSeconds * 1e9))) {
        phase = "measure";
        measureStartedAt = now;
        ackedAtStart = acked;
        batchesAtStart = ackedBatches;
        send({ type: "measure-start" });
      } else if (phase === "measure" && now - measureStartedAt >= BigInt(Math.round(params.seconds * 1e9))) {
        phase = "drain";
        send({
          type: "measure-end",
          events: acked - ackedAtStart,
          batches: ackedBatches - batchesAtStart,
          seconds: Number(now - measureStartedAt) / 1e9,
          notStored,
        });
      }
      if (phase === "drain" && inFlight === 0) {
        stream.end();
        resolve();
        return;
      }
      pump();
    });
    stream.on("error", reject);
  });
  stream.write({ body: { $case: "hello", value: hello(params.agentId) } });
  await done;
  client.close();
}

async function runIdle(params: IdleClientParams): Promise<void> {
  const opened: { client: AgentServiceClient; stream: Stream }[] = [];
  const welcomed: Promise<void>[] = [];
  for (let index = 0; index < params.count; index++) {
    const agent = open(params.port, params.token, true);
    opened.push(agent);
    welcomed.push(
      new Promise<void>((resolve, reject) => {
        agent.stream.on("data", (message: ServerMessage) => {
          if (message.body?.$case === "welcome") resolve();
        });
        agent.stream.on("error", (error: Error & { code?: number }) => {
          // Cancelled by us at the end: not an error.
          if (error.code !== 1) reject(error);
        });
      }),
    );
    agent.stream.write({ body: { $case: "hello", value: hello(`idle-agent-${index}`) } });
  }
  await Promise.all(welcomed);
  send({ type: "ready", streams: opened.length });
  await new Promise<void>((resolve) => process.once("message", () => resolve()));
  for (const agent of opened) {
    agent.stream.cancel();
    agent.client.close();
  }
}

const params = JSON.parse(process.argv[2] ?? "{}") as StreamClientParams | IdleClientParams;
try {
  if (params.mode === "stream") await runStream(params);
  else await runIdle(params);
} catch (error) {
  send({ type: "error", message: (error as Error).message });
  process.exitCode = 1;
}
process.disconnect?.();
