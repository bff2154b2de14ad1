import { afterEach, beforeEach, describe, expect, it } from "@jest/globals";
import { isVigilError } from "../errors";
import { createLogger, type Logger } from "../observability/logger";
import type { Bus, BusMessage, ConsumeOptions, Consumption, MessageHandler, StreamSpec } from "./types";

// One behavioural contract for every Bus implementation. bus.test.ts runs it
// against the in-process bus and against a real nats-server; anything the hub
// or server relies on belongs here, so embedded and distributed mode agree.

/** Makes a fresh bus logging to `logger`; the suite closes it. */
export type BusFactory = (logger: Logger) => Promise<Bus>;

const encoder = new TextEncoder();
const decoder = new TextDecoder();
let unique = 0;

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `condition` every 10 ms; fails with `what` after timeoutMs. */
export async function waitFor(what: string, condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(10);
  }
}

/** A logger whose JSON lines the test can read. */
export function capturingLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const logger = createLogger({
    name: "bus-contract",
    level: "debug",
    destination: { write: (l) => lines.push(l) },
  });
  return { logger, lines };
}

export function runBusContract(name: string, factory: BusFactory): void {
  describe(`bus contract - ${name}`, () => {
    let bus: Bus;
    let lines: string[];
    let consumptions: Consumption[];
    /** Stream name, and subject prefix `base` with stream subjects `base.>`. */
    let stream: string;
    let base: string;

    beforeEach(async () => {
      const captured = capturingLogger();
      lines = captured.lines;
      bus = await factory(captured.logger);
      consumptions = [];
      unique++;
      const tag = `${process.pid}_${unique}_${Math.floor(Math.random() * 1e6)}`;
      stream = `CONTRACT_${tag}`;
      base = `contract.${tag}`;
    });

    afterEach(async () => {
      await Promise.all(consumptions.map((c) => c.stop()));
      await bus.close();
    });

    const spec = (overrides: Partial<StreamSpec> = {}): StreamSpec => ({
      name: stream,
      subjects: [`${base}.>`],
      duplicateWindowMs: 60_000,
      maxAgeMs: 0,
      maxBytes: 0,
      ...overrides,
    });

    const consumeOptions = (overrides: Partial<ConsumeOptions> = {}): ConsumeOptions => ({
      stream,
      durable: "workers",
      maxInFlight: 10,
      ackWaitMs: 1000,
      maxDeliver: 5,
      ...overrides,
    });

    const consume = async (options: ConsumeOptions, handler: MessageHandler): Promise<Consumption> => {
      const consumption = await bus.consume(options, handler);
      consumptions.push(consumption);
      return consumption;
    };

    const publishMany = async (count: number, subject = `${base}.events`): Promise<void> => {
      for (let i = 0; i < count; i++)
        await bus.publish(subject, encoder.encode(`m${i}`), { msgId: `id-${i}` });
    };

    it("publish - delivers data, subject, msgId and headers to a consumer", async () => {
      await bus.ensureStreams([spec()]);
      const ack = await bus.publish(`${base}.agent.a1`, encoder.encode("hello"), {
        msgId: "batch-1",
        headers: { "Vigil-Agent": "a1", "Vigil-Schema": "v1" },
      });
      expect(ack).toEqual({ stream, seq: 1, duplicate: false });
      const received: BusMessage[] = [];
      await consume(consumeOptions(), async (message) => {
        received.push(message);
        await message.ack();
      });
      await waitFor("one delivery", () => received.length === 1);
      const [message] = received;
      expect(message.subject).toBe(`${base}.agent.a1`);
      expect(decoder.decode(message.data)).toBe("hello");
      expect(message.msgId).toBe("batch-1");
      expect(message.headers).toEqual({ "Vigil-Agent": "a1", "Vigil-Schema": "v1" });
      expect(message.deliveryCount).toBe(1);
      expect(message.seq).toBe(1);
    });

    it("publish - a repeated msgId is reported duplicate and delivered once", async () => {
      await bus.ensureStreams([spec()]);
      const first = await bus.publish(`${base}.events`, encoder.encode("one"), { msgId: "same" });
      const again = await bus.publish(`${base}.events`, encoder.encode("one"), { msgId: "same" });
      const other = await bus.publish(`${base}.events`, encoder.encode("two"), { msgId: "other" });
      expect(first.duplicate).toBe(false);
      expect(again).toEqual({ stream, seq: first.seq, duplicate: true });
      expect(other).toEqual({ stream, seq: first.seq + 1, duplicate: false });
      const seen: string[] = [];
      await consume(consumeOptions(), async (message) => {
        seen.push(decoder.decode(message.data));
        await message.ack();
      });
      await waitFor("two deliveries", () => seen.length === 2);
      await sleep(300);
      expect(seen).toEqual(["one", "two"]);
    });

    it("publish - a subject no stream captures rejects with VIGIL_ERR_BUS_PUBLISH naming it", async () => {
      await bus.ensureStreams([spec()]);
      const subject = `nostream.${base}.x`;
      const error = await bus.publish(subject, encoder.encode("x")).catch((e: unknown) => e);
      expect(isVigilError(error, "VIGIL_ERR_BUS_PUBLISH")).toBe(true);
      expect((error as Error).message).toContain(subject);
    });

    it("publish - a message over maxMessageBytes rejects with VIGIL_ERR_BUS_PUBLISH; one at the limit is stored", async () => {
      await bus.ensureStreams([spec()]);
      const limit = bus.maxMessageBytes();
      expect(limit).toBeGreaterThanOrEqual(64 * 1024);
      const error = await bus.publish(`${base}.big`, new Uint8Array(limit + 1)).catch((e: unknown) => e);
      expect(isVigilError(error, "VIGIL_ERR_BUS_PUBLISH")).toBe(true);
      // Headers and framing count against the limit on NATS, so leave them room.
      const ack = await bus.publish(`${base}.fits`, new Uint8Array(limit - 4096));
      expect(ack.duplicate).toBe(false);
    });

    it("consume - two members of one durable split 200 messages, none twice, none lost", async () => {
      await bus.ensureStreams([spec()]);
      const byMember: number[][] = [[], []];
      for (const member of [0, 1]) {
        await consume(consumeOptions({ maxInFlight: 5 }), async (message) => {
          byMember[member].push(message.seq);
          await sleep(2);
          await message.ack();
        });
      }
      await publishMany(200);
      await waitFor("200 deliveries", () => byMember[0].length + byMember[1].length >= 200);
      await sleep(300);
      const all = [...byMember[0], ...byMember[1]];
      expect(all).toHaveLength(200);
      expect(new Set(all).size).toBe(200);
      expect(byMember[0].length).toBeGreaterThan(0);
      expect(byMember[1].length).toBeGreaterThan(0);
    });

    it("consume - an unacked message is redelivered after ackWait with deliveryCount 2", async () => {
      await bus.ensureStreams([spec()]);
      await publishMany(1);
      const deliveries: { count: number; at: number }[] = [];
      const start = Date.now();
      await consume(consumeOptions({ ackWaitMs: 800 }), async (message) => {
        deliveries.push({ count: message.deliveryCount, at: Date.now() - start });
        if (message.deliveryCount > 1) await message.ack();
      });
      await waitFor("a redelivery", () => deliveries.length === 2);
      expect(deliveries.map((d) => d.count)).toEqual([1, 2]);
      expect(deliveries[1].at - deliveries[0].at).toBeGreaterThanOrEqual(700);
    });

    it("consume - nak(delay) redelivers after the delay", async () => {
      await bus.ensureStreams([spec()]);
      await publishMany(1);
      const deliveries: { count: number; at: number }[] = [];
      await consume(consumeOptions({ ackWaitMs: 5000 }), async (message) => {
        deliveries.push({ count: message.deliveryCount, at: Date.now() });
        if (message.deliveryCount === 1) message.nak(400);
        else await message.ack();
      });
      await waitFor("a redelivery", () => deliveries.length === 2, 4000);
      expect(deliveries[1].count).toBe(2);
      expect(deliveries[1].at - deliveries[0].at).toBeGreaterThanOrEqual(300);
    });

    it("consume - nak() without delay redelivers at once", async () => {
      await bus.ensureStreams([spec()]);
      await publishMany(1);
      const counts: number[] = [];
      await consume(consumeOptions({ ackWaitMs: 10_000 }), async (message) => {
        counts.push(message.deliveryCount);
        if (message.deliveryCount === 1) message.nak();
        else await message.ack();
      });
      await waitFor("a redelivery well before ackWait", () => counts.length === 2, 3000);
      expect(counts).toEqual([1, 2]);
    });

    it("consume - term stops redelivery", async () => {
      await bus.ensureStreams([spec()]);
      await publishMany(1);
      let deliveries = 0;
      await consume(consumeOptions({ ackWaitMs: 500 }), async (message) => {
        deliveries++;
        message.term("poison: cannot decode");
      });
      await waitFor("one delivery", () => deliveries === 1);
      await sleep(1300);
      expect(deliveries).toBe(1);
      expect(lines.some((l) => l.includes("poison: cannot decode"))).toBe(true);
    });

    it("consume - maxDeliver bounds redelivery and logs the termination", async () => {
      await bus.ensureStreams([spec()]);
      await publishMany(1);
      const counts: number[] = [];
      await consume(consumeOptions({ ackWaitMs: 500, maxDeliver: 3 }), async (message) => {
        counts.push(message.deliveryCount);
        message.nak();
      });
      await waitFor("three deliveries", () => counts.length === 3);
      await sleep(1300);
      expect(counts).toEqual([1, 2, 3]);
      expect(lines.some((l) => l.includes("maxDeliver reached"))).toBe(true);
    });

    it("consume - a message never acked on its last delivery is terminated and logged", async () => {
      await bus.ensureStreams([spec()]);
      await publishMany(1);
      const counts: number[] = [];
      await consume(consumeOptions({ ackWaitMs: 400, maxDeliver: 2 }), async (message) => {
        counts.push(message.deliveryCount);
      });
      await waitFor(
        "the termination log line",
        () => lines.some((l) => l.includes("maxDeliver reached")),
        5000,
      );
      await sleep(800);
      expect(counts).toEqual([1, 2]);
    });

    it("consume - a handler that throws on its last delivery gets the message terminated and logged", async () => {
      await bus.ensureStreams([spec()]);
      await publishMany(1);
      let calls = 0;
      await consume(consumeOptions({ ackWaitMs: 500, maxDeliver: 1 }), async () => {
        calls++;
        throw new Error("rule engine exploded");
      });
      await waitFor(
        "the termination log line",
        () => lines.some((l) => l.includes("maxDeliver reached")),
        5000,
      );
      expect(lines.some((l) => l.includes("rule engine exploded"))).toBe(true);
      await sleep(1000);
      expect(calls).toBe(1);
    });

    it("consume - ack() after stop is harmless and still counts", async () => {
      await bus.ensureStreams([spec()]);
      await publishMany(1);
      const held: BusMessage[] = [];
      const first = await consume(consumeOptions({ ackWaitMs: 800 }), async (message) => {
        held.push(message);
      });
      await waitFor("one delivery", () => held.length === 1);
      await first.stop();
      await expect(held[0].ack()).resolves.toBeUndefined();
      await expect(held[0].ack()).resolves.toBeUndefined();
      const later: BusMessage[] = [];
      await consume(consumeOptions({ ackWaitMs: 800 }), async (message) => {
        later.push(message);
        await message.ack();
      });
      await sleep(1500);
      expect(later).toHaveLength(0);
    });

    it("consume - stop() resolves once running handlers have returned", async () => {
      await bus.ensureStreams([spec()]);
      await publishMany(1);
      let finished = false;
      let started = false;
      const consumption = await consume(consumeOptions(), async (message) => {
        started = true;
        await sleep(300);
        await message.ack();
        finished = true;
      });
      await waitFor("the handler to start", () => started);
      await consumption.stop();
      expect(finished).toBe(true);
    });

    it("consume - at most maxInFlight handlers run at once", async () => {
      await bus.ensureStreams([spec()]);
      await publishMany(30);
      let active = 0;
      let peak = 0;
      let done = 0;
      await consume(consumeOptions({ maxInFlight: 3 }), async (message) => {
        active++;
        peak = Math.max(peak, active);
        await sleep(20);
        active--;
        await message.ack();
        done++;
      });
      await waitFor("30 acks", () => done === 30);
      expect(peak).toBe(3);
    });

    it("consume - maxInFlight counts unacked messages, not running handlers", async () => {
      await bus.ensureStreams([spec()]);
      await publishMany(6);
      const held: BusMessage[] = [];
      await consume(consumeOptions({ maxInFlight: 2, ackWaitMs: 10_000 }), async (message) => {
        held.push(message);
      });
      await waitFor("two deliveries", () => held.length === 2);
      await sleep(300);
      expect(held).toHaveLength(2);
      await Promise.all(held.slice(0, 2).map((m) => m.ack()));
      await waitFor("two more deliveries", () => held.length === 4);
      await sleep(300);
      expect(held).toHaveLength(4);
      expect(new Set(held.map((m) => m.seq)).size).toBe(4);
    });

    it("consume - a durable resumes after the last acked message", async () => {
      await bus.ensureStreams([spec()]);
      await publishMany(5);
      const seen: number[] = [];
      const handler: MessageHandler = async (message) => {
        seen.push(message.seq);
        await message.ack();
      };
      const first = await consume(consumeOptions(), handler);
      await waitFor("five deliveries", () => seen.length === 5);
      await first.stop();
      for (let i = 0; i < 5; i++)
        await bus.publish(`${base}.events`, encoder.encode("later"), { msgId: `later-${i}` });
      await consume(consumeOptions(), handler);
      await waitFor("ten deliveries", () => seen.length === 10);
      await sleep(200);
      expect(seen).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    });

    it("consume - filterSubject limits what the durable sees", async () => {
      await bus.ensureStreams([spec()]);
      await bus.publish(`${base}.alerts.high`, encoder.encode("a"));
      await bus.publish(`${base}.events.x`, encoder.encode("e"));
      await bus.publish(`${base}.alerts.low`, encoder.encode("b"));
      const subjects: string[] = [];
      await consume(
        consumeOptions({ durable: "alerts", filterSubject: `${base}.alerts.>` }),
        async (message) => {
          subjects.push(message.subject);
          await message.ack();
        },
      );
      await waitFor("two deliveries", () => subjects.length === 2);
      await sleep(200);
      expect(subjects).toEqual([`${base}.alerts.high`, `${base}.alerts.low`]);
    });

    it("consume - re-declaring a durable with new limits updates it", async () => {
      await bus.ensureStreams([spec()]);
      await publishMany(1);
      const counts: number[] = [];
      const first = await consume(consumeOptions({ ackWaitMs: 5000 }), async (message) => {
        counts.push(message.deliveryCount);
        await message.ack();
      });
      await waitFor("one delivery", () => counts.length === 1);
      await first.stop();
      await bus.publish(`${base}.events`, encoder.encode("second"), { msgId: "second" });
      await consume(consumeOptions({ ackWaitMs: 400, maxDeliver: 2, maxInFlight: 3 }), async (message) => {
        counts.push(message.deliveryCount);
      });
      // The new 400 ms ackWait applies: the unacked message comes back quickly.
      await waitFor("a quick redelivery", () => counts.length === 3, 3000);
      expect(counts).toEqual([1, 1, 2]);
    });

    it("consume - a stream that does not exist rejects with VIGIL_ERR_BUS_STREAM", async () => {
      const error = await bus
        .consume(consumeOptions({ stream: `${stream}_MISSING` }), async () => {})
        .catch((e) => e);
      expect(isVigilError(error, "VIGIL_ERR_BUS_STREAM")).toBe(true);
    });

    it("streams - ensureStreams is idempotent and updates limits", async () => {
      await bus.ensureStreams([spec()]);
      await bus.ensureStreams([spec()]);
      await bus.ensureStreams([spec({ maxBytes: 1_000_000, maxAgeMs: 3_600_000 })]);
      const ack = await bus.publish(`${base}.events`, encoder.encode("x"));
      expect(ack.stream).toBe(stream);
    });

    it("streams - maxBytes discards the oldest messages", async () => {
      await bus.ensureStreams([spec({ maxBytes: 4000 })]);
      const payload = new Uint8Array(200);
      for (let i = 0; i < 100; i++) await bus.publish(`${base}.events`, payload, { msgId: `big-${i}` });
      const seqs: number[] = [];
      await consume(consumeOptions(), async (message) => {
        seqs.push(message.seq);
        await message.ack();
      });
      await waitFor("the newest message", () => seqs.includes(100));
      expect(seqs[0]).toBeGreaterThan(50);
      expect(seqs.length).toBeLessThan(25);
    });

    it("streams - maxAge discards expired messages", async () => {
      await bus.ensureStreams([spec({ maxAgeMs: 1000, duplicateWindowMs: 500 })]);
      await bus.publish(`${base}.events`, encoder.encode("old"));
      await sleep(2200);
      await bus.publish(`${base}.events`, encoder.encode("new"));
      const seen: string[] = [];
      await consume(consumeOptions(), async (message) => {
        seen.push(decoder.decode(message.data));
        await message.ack();
      });
      await waitFor("the new message", () => seen.includes("new"));
      expect(seen).toEqual(["new"]);
    });

    it("streams - an invalid spec is rejected with VIGIL_ERR_BUS_STREAM", async () => {
      const error = await bus.ensureStreams([spec({ name: "bad name" })]).catch((e) => e);
      expect(isVigilError(error, "VIGIL_ERR_BUS_STREAM")).toBe(true);
    });

    it("subscribe - a live tail receives publishes until unsubscribed", async () => {
      await bus.ensureStreams([spec()]);
      const tail: string[] = [];
      const subscription = bus.subscribe(`${base}.alerts.*`, (subject, data) => {
        tail.push(`${subject}=${decoder.decode(data)}`);
      });
      // Let the subscription reach the server before publishing.
      await sleep(100);
      await bus.publish(`${base}.alerts.high`, encoder.encode("1"));
      await bus.publish(`${base}.events.x`, encoder.encode("2"));
      await bus.publish(`${base}.alerts.low`, encoder.encode("3"));
      await waitFor("two tail messages", () => tail.length === 2);
      subscription.unsubscribe();
      await sleep(100);
      await bus.publish(`${base}.alerts.high`, encoder.encode("4"));
      await sleep(200);
      expect(tail).toEqual([`${base}.alerts.high=1`, `${base}.alerts.low=3`]);
    });

    it("readStream - stored messages in order with subject, data, headers, seq and time; not consumed", async () => {
      await bus.ensureStreams([spec()]);
      const before = Date.now();
      await bus.publish(`${base}.audit.a`, encoder.encode("1"), {
        msgId: "m1",
        headers: { "Vigil-Actor": "alice" },
      });
      await bus.publish(`${base}.audit.b`, encoder.encode("2"));
      await bus.publish(`${base}.other`, encoder.encode("3"));
      const all = await bus.readStream(stream, { limit: 10 });
      expect(all.map((m) => [m.seq, m.subject, decoder.decode(m.data)])).toEqual([
        [1, `${base}.audit.a`, "1"],
        [2, `${base}.audit.b`, "2"],
        [3, `${base}.other`, "3"],
      ]);
      expect(all[0].headers).toEqual({ "Vigil-Actor": "alice" });
      expect(all[1].headers).toEqual({});
      expect(all[0].timeMs).toBeGreaterThanOrEqual(before - 1000);
      expect(all[0].timeMs).toBeLessThanOrEqual(Date.now() + 1000);
      // Reading consumes nothing: a durable still gets every message.
      const consumed: number[] = [];
      await consume(consumeOptions(), async (message) => {
        consumed.push(message.seq);
        await message.ack();
      });
      await waitFor("three deliveries", () => consumed.length === 3);
    });

    it("readStream - limit bounds, startSeq pages, subject filters, startTimeMs skips older messages", async () => {
      await bus.ensureStreams([spec()]);
      for (let i = 1; i <= 6; i++)
        await bus.publish(`${base}.${i % 2 ? "odd" : "even"}`, encoder.encode(`m${i}`));
      const page1 = await bus.readStream(stream, { limit: 4 });
      expect(page1.map((m) => m.seq)).toEqual([1, 2, 3, 4]);
      const page2 = await bus.readStream(stream, { limit: 4, startSeq: page1[3].seq + 1 });
      expect(page2.map((m) => m.seq)).toEqual([5, 6]);
      expect(await bus.readStream(stream, { limit: 4, startSeq: 7 })).toEqual([]);
      const even = await bus.readStream(stream, { limit: 10, subject: `${base}.even` });
      expect(even.map((m) => decoder.decode(m.data))).toEqual(["m2", "m4", "m6"]);
      const evenFrom3 = await bus.readStream(stream, { limit: 1, subject: `${base}.even`, startSeq: 3 });
      expect(evenFrom3.map((m) => m.seq)).toEqual([4]);
      await sleep(50);
      const cut = Date.now();
      await sleep(50);
      await bus.publish(`${base}.odd`, encoder.encode("m7"));
      const recent = await bus.readStream(stream, { limit: 10, startTimeMs: cut });
      expect(recent.map((m) => decoder.decode(m.data))).toEqual(["m7"]);
      expect(await bus.readStream(stream, { limit: 10, subject: `${base}.none` })).toEqual([]);
    });

    it("readStream - a missing stream or a bad limit is rejected with VIGIL_ERR_BUS_STREAM naming it", async () => {
      await bus.ensureStreams([spec()]);
      const missing = await bus.readStream(`${stream}_MISSING`, { limit: 1 }).catch((e: unknown) => e);
      expect(isVigilError(missing, "VIGIL_ERR_BUS_STREAM")).toBe(true);
      expect((missing as Error).message).toContain(`${stream}_MISSING`);
      for (const limit of [0, 10_001, 1.5]) {
        const bad = await bus.readStream(stream, { limit }).catch((e: unknown) => e);
        expect(isVigilError(bad, "VIGIL_ERR_BUS_STREAM")).toBe(true);
        expect((bad as Error).message).toContain("limit");
      }
    });

    it("bus - healthy while open; closed bus rejects with VIGIL_ERR_BUS_UNAVAILABLE", async () => {
      await bus.ensureStreams([spec()]);
      expect(bus.isHealthy()).toBe(true);
      await bus.close();
      expect(bus.isHealthy()).toBe(false);
      const error = await bus.publish(`${base}.events`, encoder.encode("x")).catch((e) => e);
      expect(isVigilError(error, "VIGIL_ERR_BUS_UNAVAILABLE")).toBe(true);
      await bus.close();
    });
  });
}
