import { BusEventBatch, CanonicalEvent } from "@vigil/proto";
import { completeBatchEvents, decodeBusBatch } from "./batch-events";

describe("completeBatchEvents", () => {
  test("events without a host or agent get the batch's; an event that has its own keeps it", () => {
    const batch = BusEventBatch.decode(
      BusEventBatch.encode(
        BusEventBatch.fromPartial({
          agentId: "a1",
          sequence: 4,
          host: { id: "a1", hostname: "web-01" },
          agent: { id: "a1", version: "0.2.0" },
          events: [
            CanonicalEvent.fromPartial({ event: { id: "a1:4:0" } }),
            // As an older server sent them: host and agent on the event itself.
            CanonicalEvent.fromPartial({
              event: { id: "a1:4:1" },
              host: { id: "a1", hostname: "old-name" },
              agent: { id: "a1", version: "0.1.0" },
            }),
          ],
        }),
      ).finish(),
    );
    const events = completeBatchEvents(batch);
    expect(events.map((event) => [event.host?.hostname, event.agent?.version])).toEqual([
      ["web-01", "0.2.0"],
      ["old-name", "0.1.0"],
    ]);
  });

  test("a batch without host or agent (an older server) leaves its events as they are", () => {
    const event = CanonicalEvent.fromPartial({ event: { id: "a1:1:0" }, host: { hostname: "web-02" } });
    const [out] = completeBatchEvents(BusEventBatch.fromPartial({ agentId: "a1", events: [event] }));
    expect(out.host?.hostname).toBe("web-02");
    expect(out.agent).toBeUndefined();
  });
});

describe("completeBatchEvents - parents", () => {
  test("a process.parent_index past the batch's parents is refused, naming both", () => {
    const batch = BusEventBatch.fromPartial({
      agentId: "a1",
      events: [CanonicalEvent.fromPartial({ process: { pid: 5, parentIndex: 3 } })],
      parents: [{ pid: 1 }],
    });
    expect(() => completeBatchEvents(batch)).toThrow("process.parent_index 3 is past the batch's 1 parents");
  });
});

describe("decodeBusBatch", () => {
  test("decodes and puts each event's shared parent back; bad bytes and a bad parent index throw", () => {
    const batch = BusEventBatch.fromPartial({
      agentId: "a1",
      events: [
        CanonicalEvent.fromPartial({ process: { pid: 5, parentIndex: 1 } }),
        CanonicalEvent.fromPartial({ process: { pid: 6, parentIndex: 1 } }),
      ],
      parents: [{ pid: 1, executable: "/usr/bin/bash" }],
    });
    const decoded = decodeBusBatch(BusEventBatch.encode(batch).finish());
    expect(decoded.events.map((event) => event.process?.parent?.executable)).toEqual([
      "/usr/bin/bash",
      "/usr/bin/bash",
    ]);
    const bytes = BusEventBatch.encode(batch).finish();
    expect(() => decodeBusBatch(bytes.subarray(0, bytes.length - 1))).toThrow();
    const pastTheEnd = BusEventBatch.encode({ ...batch, parents: [] }).finish();
    expect(() => decodeBusBatch(pastTheEnd)).toThrow("process.parent_index 1 is past the batch's 0 parents");
  });
});
