import { completeBatchEvents, toEcsDocument } from "@vigil/common";
import { BusEventBatch, type Event } from "@vigil/proto";
import {
  CONNECT_OUT,
  EXEC_CAT_SHADOW,
  EXIT_EVENT,
  OPEN_AUTHORIZED_KEYS,
  SAMPLE_HELLO,
} from "../../../test/fixtures/sample-events";
import { identityFromHello } from "./agent-identity";
import { normalizeBatch } from "./normalize-batch";
import { normalizeEvent } from "./normalize-event";

const identity = identityFromHello(SAMPLE_HELLO);
const RECEIVED_US = 1_763_900_000_500_000;

/** The batch as the hub sees it: encoded, decoded, made whole. */
function throughTheBus(events: Event[]) {
  const normalized = normalizeBatch(identity, 7, events, RECEIVED_US);
  const bytes = BusEventBatch.encode({
    agentId: identity.agentId,
    sequence: 7,
    serverId: "s1",
    receivedUs: RECEIVED_US,
    events: normalized.events,
    host: identity.host,
    agent: identity.agent,
    parents: normalized.parents,
  }).finish();
  return { normalized, documents: completeBatchEvents(BusEventBatch.decode(bytes)).map(toEcsDocument) };
}

/** The same events normalized one by one with everything inline (what older servers sent). */
function inline(events: Event[]) {
  return events.map((event, index) => {
    const canonical = normalizeEvent(identity, event, { sequence: 7, index, receivedUs: RECEIVED_US });
    if (!canonical) throw new Error("expected an event");
    return toEcsDocument({ ...canonical, host: identity.host, agent: identity.agent });
  });
}

describe("normalizeBatch - shared parents", () => {
  test("events with the same parent chain share one parents entry; the hub sees the same documents as inline", () => {
    const events = [EXEC_CAT_SHADOW, OPEN_AUTHORIZED_KEYS, CONNECT_OUT, EXIT_EVENT];
    const { normalized, documents } = throughTheBus(events);
    const chains = new Set(
      events.map((event) => JSON.stringify([event.process?.parent, event.process?.grandparent])),
    );
    expect(normalized.parents).toHaveLength(chains.size);
    expect(normalized.parents.length).toBeLessThan(events.length);
    for (const event of normalized.events) {
      expect(event.process?.parent).toBeUndefined();
      expect(event.process?.parentIndex).toBeGreaterThan(0);
    }
    expect(documents).toEqual(inline(events));
  });

  test("a parent that exec'd during the batch (same pid and entity id, new program) is a separate entry", () => {
    const parent = EXEC_CAT_SHADOW.process?.parent;
    if (!EXEC_CAT_SHADOW.process || !parent) throw new Error("fixture without a parent");
    const afterExec: Event = {
      ...EXEC_CAT_SHADOW,
      process: {
        ...EXEC_CAT_SHADOW.process,
        parent: { ...parent, executable: "/usr/bin/python3", args: ["python3", "job.py"] },
      },
    };
    const { normalized, documents } = throughTheBus([EXEC_CAT_SHADOW, afterExec]);
    expect(normalized.parents).toHaveLength(2);
    // biome-ignore lint/suspicious/noExplicitAny: walking the nested ECS document
    const parents = documents.map((document) => (document.process as any).parent);
    expect(parents[0].entity_id).toBe(parents[1].entity_id);
    expect(parents.map((item) => item.command_line)).toEqual([parent.args.join(" "), "python3 job.py"]);
    expect(documents).toEqual(inline([EXEC_CAT_SHADOW, afterExec]));
  });

  test("an event without a payload is left out and counted", () => {
    const { normalized } = throughTheBus([EXEC_CAT_SHADOW, { ...EXIT_EVENT, payload: undefined }]);
    expect(normalized.events).toHaveLength(1);
    expect(normalized.withoutPayload).toBe(1);
  });
});
