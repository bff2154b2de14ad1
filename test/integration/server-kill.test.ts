import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Bus, type BusMessage, connectNatsBus, EVENTS_STREAM, silentLogger } from "@vigil/common";
import { BusEventBatch, Event } from "@vigil/proto";
import { EXEC_CAT_SHADOW } from "../fixtures/sample-events";
import { freeLoopbackPort, type NatsServerHandle, startNatsServer } from "../harness/nats-server";
import { httpOk, killAllVigil, spawnVigil, type VigilProcess } from "../harness/vigil-process";
import { waitFor } from "../harness/wait-for";

// kill -9 of the server process mid-stream, everything real: a nats-server -js
// as the bus, `vigil server` and `vigil agent` as processes of their own (the
// agent replays exec events at a steady rate into its disk spool). The server
// is killed while batches are on the wire and in its publish path, and a new
// server process starts on the same port. The JetStream stream must then hold
// every event exactly once — batches the dead server had published but not
// acked are resent and dropped by the bus's (agent, sequence) message id —
// and in the order the agent collected them.

const TOKEN = "server-kill-agent-token-0123456789";
const AGENT_ID = "server-kill-agent";
const EVENTS = 20_000;
const RATE = 4000; // events/s: the replay takes ~5 s, the kill lands in the middle
const FIRST_PID = 100_000;
const logger = silentLogger();

jest.setTimeout(120_000);

let work: string;
let nats: NatsServerHandle;
let bus: Bus | undefined;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "vigil-server-kill-"));
  nats = await startNatsServer();
});
afterAll(async () => {
  await killAllVigil();
  await bus?.close();
  await nats?.stop();
  rmSync(work, { recursive: true, force: true });
});

function replayFile(count: number): string {
  const lines: string[] = [];
  for (let i = 0; i < count; i++) {
    const process = { ...(EXEC_CAT_SHADOW.process as NonNullable<Event["process"]>), pid: FIRST_PID + i };
    lines.push(JSON.stringify(Event.toJSON({ ...EXEC_CAT_SHADOW, process })));
  }
  const file = join(work, "events.jsonl");
  writeFileSync(file, `${lines.join("\n")}\n`);
  return file;
}

function startServer(grpcPort: number, apiPort: number, run: number): VigilProcess {
  return spawnVigil(`server#${run}`, ["server"], {
    VIGIL_SERVER_SERVER_ID: `server-kill-${run}`,
    VIGIL_SERVER_NATS__SERVERS: nats.url,
    VIGIL_SERVER_GRPC__PORT: String(grpcPort),
    VIGIL_SERVER_GRPC__AGENT_TOKEN: TOKEN,
    VIGIL_SERVER_API__PORT: String(apiPort),
    VIGIL_SERVER_LOG_LEVEL: "warn",
  });
}

describe("server kill -9 - a new server process on the same port, nothing lost, nothing twice", () => {
  test("every event is in the JetStream stream exactly once and in order", async () => {
    const grpcPort = await freeLoopbackPort();
    const apiPort = await freeLoopbackPort();
    let server = startServer(grpcPort, apiPort, 1);
    await waitFor(
      async () => {
        if (!server.isRunning()) throw new Error(`vigil server exited:\n${server.output()}`);
        return httpOk(`http://127.0.0.1:${apiPort}/healthz`);
      },
      20_000,
      "the first server's /healthz",
    );

    // The stream as stored: every message by its stream sequence (a redelivery
    // to this consumer lands on the same key, a stored duplicate would not).
    bus = await connectNatsBus({ servers: [nats.url], name: "server-kill-test", logger });
    const stored = new Map<number, { msgId: string | undefined; pids: number[] }>();
    let received = 0;
    await bus.consume(
      {
        stream: EVENTS_STREAM,
        durable: "server-kill-it",
        maxInFlight: 256,
        ackWaitMs: 30_000,
        maxDeliver: 10,
      },
      async (message: BusMessage) => {
        const batch = BusEventBatch.decode(message.data);
        if (!stored.has(message.seq)) received += batch.events.length;
        stored.set(message.seq, {
          msgId: message.msgId,
          pids: batch.events.map((event) => event.process?.pid ?? -1),
        });
        await message.ack();
      },
    );

    const agent = spawnVigil("agent", ["agent"], {
      VIGIL_AGENT_AGENT_ID: AGENT_ID,
      VIGIL_AGENT_SERVERS: `127.0.0.1:${grpcPort}`,
      VIGIL_AGENT_TOKEN: TOKEN,
      VIGIL_AGENT_STATE_DIR: join(work, "agent-state"),
      VIGIL_AGENT_COLLECTORS: "replay",
      VIGIL_AGENT_REPLAY__FILES: replayFile(EVENTS),
      VIGIL_AGENT_REPLAY__RATE: String(RATE),
      VIGIL_AGENT_BATCH__MAX_EVENTS: "50",
      VIGIL_AGENT_BATCH__FLUSH_INTERVAL_MS: "20",
      VIGIL_AGENT_TRANSPORT__ACK_TIMEOUT_MS: "2000",
      VIGIL_AGENT_TRANSPORT__BACKOFF_INITIAL_MS: "50",
      VIGIL_AGENT_TRANSPORT__BACKOFF_MAX_MS: "300",
      VIGIL_AGENT_LOG_LEVEL: "warn",
    });

    // Kill -9 once a fifth of the events is on the bus: the agent keeps
    // collecting into its spool while no server is there.
    await waitFor(() => received >= EVENTS / 5, 30_000, "the first events on the bus");
    await server.kill9();
    const atKill = received;
    expect(atKill).toBeLessThan(EVENTS);
    await new Promise((done) => setTimeout(done, 1000));
    expect(agent.isRunning()).toBe(true);

    server = startServer(grpcPort, apiPort, 2);
    await waitFor(
      () => {
        if (!server.isRunning()) throw new Error(`vigil server #2 exited:\n${server.output()}`);
        return received >= EVENTS;
      },
      60_000,
      `all ${EVENTS} events on the bus (agent log:\n${agent.output().slice(-2000)})`,
    );
    await new Promise((done) => setTimeout(done, 1000)); // anything doubled would show up by now

    const messages = [...stored.entries()].sort(([a], [b]) => a - b).map(([, message]) => message);
    const msgIds = messages.map((message) => message.msgId);
    expect(new Set(msgIds).size).toBe(messages.length); // no batch stored twice
    const pids = messages.flatMap((message) => message.pids);
    expect(pids).toHaveLength(EVENTS);
    // Exactly the replayed events, in the order they were collected.
    expect(pids).toEqual(Array.from({ length: EVENTS }, (_, i) => FIRST_PID + i));

    expect(await agent.stop()).toEqual({ code: 0, signal: null });
    expect(await server.stop()).toEqual({ code: 0, signal: null });
  });
});
