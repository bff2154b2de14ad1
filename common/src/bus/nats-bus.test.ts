import { afterAll, afterEach, beforeAll, describe, expect, it } from "@jest/globals";
import { type NatsServerHandle, startNatsServer } from "../../../test/harness/nats-server";
import { isVigilError } from "../errors";
import { capturingLogger, sleep, waitFor } from "./bus-contract";
import { connectNatsBus, type NatsBus } from "./nats-bus";
import type { Consumption, StreamSpec } from "./types";

// What only a real server can show: kill -9 and restart with a file store,
// separate connections sharing one durable, auth, and connect failures.

const encoder = new TextEncoder();

describe("nats bus - faults and connections", () => {
  let server: NatsServerHandle;
  const open: NatsBus[] = [];
  const consumptions: Consumption[] = [];

  beforeAll(async () => {
    server = await startNatsServer();
  });
  afterAll(async () => {
    await server?.stop();
  });
  afterEach(async () => {
    await Promise.all(consumptions.splice(0).map((c) => c.stop()));
    await Promise.all(open.splice(0).map((b) => b.close()));
  });

  const connect = async (name: string, url = server.url): Promise<NatsBus> => {
    const bus = await connectNatsBus({
      servers: [url],
      name,
      logger: capturingLogger().logger,
      requestTimeoutMs: 1000,
    });
    open.push(bus);
    return bus;
  };

  const spec = (name: string): StreamSpec => ({
    name,
    subjects: [`${name.toLowerCase()}.>`],
    duplicateWindowMs: 60_000,
    maxAgeMs: 0,
    maxBytes: 0,
  });

  /** Publishing right after a restart may race JetStream's recovery: retry briefly. */
  const publishEventually = async (bus: NatsBus, subject: string, msgId: string) => {
    const deadline = Date.now() + 15_000;
    for (;;) {
      try {
        return await bus.publish(subject, encoder.encode(msgId), { msgId });
      } catch (error) {
        if (Date.now() > deadline) throw error;
        await sleep(200);
      }
    }
  };

  it("kill -9 and restart - stored messages survive and publishing resumes", async () => {
    const bus = await connect("fault-test");
    await bus.ensureStreams([spec("FAULT")]);
    for (let i = 1; i <= 10; i++)
      await bus.publish("fault.events", encoder.encode(`before-${i}`), { msgId: `b${i}` });

    const seen = new Map<number, string>();
    consumptions.push(
      await bus.consume(
        { stream: "FAULT", durable: "hub", maxInFlight: 4, ackWaitMs: 2000, maxDeliver: 10 },
        async (message) => {
          // Hold the first messages so some are unacked when the server dies.
          if (message.seq <= 3 && message.deliveryCount === 1) return;
          seen.set(message.seq, new TextDecoder().decode(message.data));
          await message.ack();
        },
      ),
    );
    await waitFor("the seven messages the handler acks", () => seen.size === 7);

    await server.kill9();
    await waitFor("the bus to notice", () => !bus.isHealthy(), 10_000);
    const whileDown = await bus
      .publish("fault.events", encoder.encode("lost"), { msgId: "down" })
      .catch((e) => e);
    expect(isVigilError(whileDown, "VIGIL_ERR_BUS_PUBLISH")).toBe(true);

    await server.restart();
    await waitFor("the bus to reconnect", () => bus.isHealthy(), 15_000);
    for (let i = 1; i <= 10; i++) await publishEventually(bus, "fault.events", `a${i}`);

    // Unacked before the kill (seq 1-3) come back after ackWait; new ones flow to the same consumption.
    await waitFor("all 20 stored messages", () => seen.size === 20, 30_000);
    expect([...seen.keys()].sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(seen.get(1)).toBe("before-1");
  }, 60_000);

  it("kill -9 and restart - a bus connected afterwards reads the file store", async () => {
    const writer = await connect("writer");
    await writer.ensureStreams([spec("DURABLE")]);
    for (let i = 1; i <= 5; i++)
      await writer.publish("durable.events", encoder.encode(`m${i}`), { msgId: `d${i}` });
    await server.kill9();
    await server.restart();
    const reader = await connect("reader");
    const seqs: number[] = [];
    consumptions.push(
      await reader.consume(
        { stream: "DURABLE", durable: "late", maxInFlight: 10, ackWaitMs: 2000, maxDeliver: 3 },
        async (message) => {
          seqs.push(message.seq);
          await message.ack();
        },
      ),
    );
    await waitFor("five stored messages", () => seqs.length === 5, 15_000);
    expect(seqs).toEqual([1, 2, 3, 4, 5]);
    // The duplicate window survives the restart too.
    const again = await publishEventually(writer, "durable.events", "d1");
    expect(again.duplicate).toBe(true);
  }, 60_000);

  it("close - does not hang while the server is down", async () => {
    const bus = await connect("closer");
    await bus.ensureStreams([spec("CLOSER")]);
    consumptions.push(
      await bus.consume(
        { stream: "CLOSER", durable: "c", maxInFlight: 2, ackWaitMs: 1000, maxDeliver: 2 },
        async (message) => {
          await message.ack();
        },
      ),
    );
    await server.kill9();
    await waitFor("the bus to notice", () => !bus.isHealthy(), 10_000);
    const started = Date.now();
    await Promise.all(consumptions.splice(0).map((c) => c.stop()));
    await bus.close();
    expect(Date.now() - started).toBeLessThan(6000);
    await server.restart();
  }, 30_000);

  it("durable - members on separate connections split the messages", async () => {
    const a = await connect("member-a");
    const b = await connect("member-b");
    await a.ensureStreams([spec("SPLIT")]);
    const counts = new Map<number, number>();
    const byMember = [0, 0];
    for (const [index, bus] of [a, b].entries()) {
      consumptions.push(
        await bus.consume(
          { stream: "SPLIT", durable: "hubs", maxInFlight: 5, ackWaitMs: 5000, maxDeliver: 3 },
          async (message) => {
            counts.set(message.seq, (counts.get(message.seq) ?? 0) + 1);
            byMember[index]++;
            await sleep(2);
            await message.ack();
          },
        ),
      );
    }
    for (let i = 0; i < 200; i++)
      await a.publish("split.events", encoder.encode(String(i)), { msgId: `s${i}` });
    await waitFor("200 messages", () => counts.size === 200, 20_000);
    await sleep(300);
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
    expect(byMember[0]).toBeGreaterThan(0);
    expect(byMember[1]).toBeGreaterThan(0);
  });

  it("connect - no server rejects with VIGIL_ERR_BUS_UNAVAILABLE naming the address", async () => {
    const error = await connectNatsBus({
      servers: ["nats://127.0.0.1:1"],
      name: "nowhere",
      logger: capturingLogger().logger,
    }).catch((e) => e);
    expect(isVigilError(error, "VIGIL_ERR_BUS_UNAVAILABLE")).toBe(true);
    expect((error as Error).message).toContain("127.0.0.1:1");
  });

  it("connect - conflicting credentials are a config error naming the key", async () => {
    const error = await connectNatsBus({
      servers: [server.url],
      name: "bad-config",
      token: "t",
      user: "u",
      password: "p",
      logger: capturingLogger().logger,
    }).catch((e) => e);
    expect(isVigilError(error, "VIGIL_ERR_CONFIG_INVALID")).toBe(true);
    expect((error as Error).message).toContain("bus.nats.token");
  });
});

describe("nats bus - authentication", () => {
  let server: NatsServerHandle;
  beforeAll(async () => {
    server = await startNatsServer({ args: ["--user", "vigil", "--pass", "s3cret"] });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it("connects with user and password", async () => {
    const { logger, lines } = capturingLogger();
    const bus = await connectNatsBus({
      servers: [server.url],
      name: "auth",
      user: "vigil",
      password: "s3cret",
      logger,
    });
    try {
      expect(bus.isHealthy()).toBe(true);
      expect(lines.join("\n")).not.toContain("s3cret");
    } finally {
      await bus.close();
    }
  });

  it("rejects a wrong password with VIGIL_ERR_BUS_UNAVAILABLE", async () => {
    const error = await connectNatsBus({
      servers: [server.url],
      name: "auth",
      user: "vigil",
      password: "wrong",
      logger: capturingLogger().logger,
    }).catch((e) => e);
    expect(isVigilError(error, "VIGIL_ERR_BUS_UNAVAILABLE")).toBe(true);
  });
});
