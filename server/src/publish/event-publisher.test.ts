import {
  completeBatchEvents,
  createMemoryBus,
  defaultStreams,
  EVENTS_STREAM,
  type MemoryBus,
} from "@vigil/common";
import { BusEventBatch, CanonicalEvent } from "@vigil/proto";
import { SAMPLE_HELLO } from "../../../test/fixtures/sample-events";
import { identityFromHello } from "../normalize/agent-identity";
import { EventPublisher } from "./event-publisher";

const AGENT = identityFromHello({ ...SAMPLE_HELLO, agentId: "agent-1" });

function publish(publisher: EventPublisher, sequence: number, events: CanonicalEvent[]) {
  return publisher.send(publisher.encode(AGENT, sequence, events, 1));
}

const LIMIT = 64 * 1024;

function event(index: number, argBytes = 500): CanonicalEvent {
  return CanonicalEvent.fromPartial({
    timestampUs: 1_763_900_000_000_000 + index,
    event: {
      id: `agent-1:9:${index}`,
      kind: "event",
      category: ["process"],
      type: ["start"],
      action: "exec",
    },
    process: {
      pid: 1000 + index,
      executable: "/usr/bin/python3",
      args: ["python3", "-c", "x".repeat(argBytes)],
    },
  });
}

async function drain(bus: MemoryBus): Promise<{ ids: string[]; hosts: string[]; messages: number }> {
  const seen = { ids: [] as string[], hosts: [] as string[], messages: 0 };
  const consumption = await bus.consume(
    { stream: EVENTS_STREAM, durable: "publisher-test", maxInFlight: 100, ackWaitMs: 5000, maxDeliver: 3 },
    async (message) => {
      seen.messages++;
      expect(message.data.byteLength).toBeLessThanOrEqual(LIMIT);
      for (const decoded of completeBatchEvents(BusEventBatch.decode(message.data))) {
        seen.ids.push(decoded.event?.id ?? "");
        seen.hosts.push(`${decoded.host?.hostname}/${decoded.agent?.id}`);
      }
      await message.ack();
    },
  );
  await new Promise((resolve) => setTimeout(resolve, 100));
  await consumption.stop();
  return seen;
}

describe("event publisher - batches larger than a bus message", () => {
  let bus: MemoryBus;
  beforeEach(async () => {
    bus = createMemoryBus({ maxMessageBytes: LIMIT });
    await bus.ensureStreams(defaultStreams());
  });
  afterEach(() => bus.close());

  test("a batch within the limit is one message with the batch id", async () => {
    const result = await publish(new EventPublisher(bus, "s1"), 9, [event(0), event(1)]);
    expect(result).toMatchObject({ duplicate: false, parts: 1, oversizedEvents: 0 });
    expect((await drain(bus)).messages).toBe(1);
  });

  test("a batch over the limit is split into parts that each fit; every event arrives once, in order", async () => {
    const events = Array.from({ length: 300 }, (_, index) => event(index));
    const publisher = new EventPublisher(bus, "s1");
    const first = await publish(publisher, 9, events);
    expect(first.parts).toBeGreaterThan(2);
    expect(first.duplicate).toBe(false);
    // The agent resends the batch (its ack was lost): every part is a duplicate.
    const again = await publish(publisher, 9, events);
    expect(again).toMatchObject({ duplicate: true, parts: first.parts });
    const seen = await drain(bus);
    expect(seen.messages).toBe(first.parts);
    expect(seen.ids).toEqual(events.map((item) => item.event?.id));
    // Every part carries the agent's host and agent once; each event gets them back on the way out.
    expect(new Set(seen.hosts)).toEqual(new Set([`${SAMPLE_HELLO.hostname}/agent-1`]));
  });

  test("an event that alone exceeds the limit is dropped and counted; the rest are published", async () => {
    const events = [event(0), event(1, 2 * LIMIT), event(2)];
    const result = await publish(new EventPublisher(bus, "s1"), 10, events);
    expect(result.oversizedEvents).toBe(1);
    expect((await drain(bus)).ids).toEqual(["agent-1:9:0", "agent-1:9:2"]);
  });
});
