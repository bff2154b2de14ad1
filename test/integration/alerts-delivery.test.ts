// Alerts that never get lost, across the real pieces: two hub instances on one
// real nats-server share the events consumer and the dedup state (NATS KV),
// and write to the loopback Elasticsearch double while it goes down, comes
// back and answers with a storm of 429s. Every alert must land exactly once,
// the deduplicated one with the count of all its events, and nothing may stay
// unacked on the bus.

import { type Bus, DEAD_LETTER_STREAM, defaultStreams, type EcsDocument } from "@vigil/common";
import { AlertDeduplicator, alertDedupBucket, alertId, type HubService } from "@vigil/hub";
import type { CanonicalEvent } from "@vigil/proto";
import type { ElasticsearchDouble } from "../doubles/elasticsearch-double";
import { busExecEvent } from "../fixtures/bus-exec-event";
import { commandLineRule } from "../fixtures/process-rule";
import { compileTestRules } from "../harness/compile-test-rules";
import { HubOnNats, publishBatch as publish } from "../harness/hub-on-nats";
import { waitFor } from "../harness/wait-for";

const RULE_ID = "8f1f4c55-0a8e-4f2a-bb2f-0c3f5e9d1a77";
const RULE = commandLineRule("/etc/shadow", {
  id: RULE_ID,
  title: "Shadow file read",
  tags: ["attack.credential-access", "attack.t1003.008"],
});

const BASE_US = Date.UTC(2026, 10, 23, 12, 0, 0) * 1000;

function execEvent(batch: number, index: number, commandLine: string): CanonicalEvent {
  return busExecEvent({
    id: `agent-1:${batch}:${index}`,
    timestampUs: BASE_US + (batch * 10 + index) * 1000,
    pid: 1000 + batch * 10 + index,
    commandLine,
  });
}

function publishBatch(bus: Bus, sequence: number, events: CanonicalEvent[]): Promise<void> {
  return publish(bus, { agentId: "agent-1", hostName: "web-01", sequence, events });
}

describe("alerts delivery - two hubs, real NATS, Elasticsearch faults", () => {
  let stack: HubOnNats;
  let es: ElasticsearchDouble;
  const hubs: HubService[] = [];

  beforeEach(async () => {
    stack = await HubOnNats.start({ elasticsearch: true });
    es = stack.es;
  });
  afterEach(async () => {
    hubs.length = 0;
    await stack.stop();
  });

  async function startHubs(count: number, dedupWindowMs: number): Promise<Bus> {
    const rules = compileTestRules(RULE, "shadow.yml");
    for (let index = 0; index < count; index++) {
      const bus = await stack.connect(`hub-${index}`);
      await bus.ensureStreams(defaultStreams());
      const sink = stack.elasticsearchSink({
        maxRetries: 1,
        retryBaseDelayMs: 10,
        retryMaxDelayMs: 20,
        requestTimeoutMs: 2000,
        maxBatchItems: 4,
      });
      const hub = await stack.startHubService({
        bus,
        rules,
        sinks: [sink],
        consumer: { maxInFlight: 8, ackWaitMs: 5000, maxDeliver: 1000, retryDelayMs: 50 },
        dedup: new AlertDeduplicator({
          kv: await bus.openKv(alertDedupBucket()),
          defaults: { fields: ["host.id", "process.command_line"], windowMs: dedupWindowMs },
        }),
      });
      hubs.push(hub);
    }
    return stack.connect("server");
  }

  const acked = async () => {
    let total = 0;
    for (const hub of hubs) {
      const metric = await hub.metricsRegistry.getSingleMetric("vigil_hub_batches_total")?.get();
      for (const value of metric?.values ?? []) if (value.labels.outcome === "acked") total += value.value;
    }
    return total;
  };

  test("an outage then a 429 storm delay the alerts; each lands once and the deduplicated one counts every event", async () => {
    const publisher = await startHubs(2, 600_000);
    await es.goDown();
    // 12 batches of 5: each has 2 distinct shadow reads, 2 identical ones (deduplicated) and 1 harmless command.
    const distinct: string[] = [];
    for (let batch = 1; batch <= 12; batch++) {
      const events = [
        execEvent(batch, 0, `cat /etc/shadow.${batch}a`),
        execEvent(batch, 1, "cat /etc/shadow"),
        execEvent(batch, 2, "cat /etc/hostname"),
        execEvent(batch, 3, `head /etc/shadow.${batch}b`),
        execEvent(batch, 4, "cat /etc/shadow"),
      ];
      distinct.push(alertId(RULE_ID, `agent-1:${batch}:0`), alertId(RULE_ID, `agent-1:${batch}:3`));
      await publishBatch(publisher, batch, events);
    }
    // Both hubs keep failing and redelivering while ES is down.
    await waitFor(
      async () => {
        let retried = 0;
        for (const hub of hubs) {
          const metric = await hub.metricsRegistry.getSingleMetric("vigil_hub_batches_total")?.get();
          for (const value of metric?.values ?? [])
            if (value.labels.outcome === "retried") retried += value.value;
        }
        return retried >= 6;
      },
      10_000,
      "batches redelivered during the outage",
    );
    expect(es.documents("vigil-alerts")).toEqual([]);
    es.rejectNextBulkRequests(15, 429);
    await es.comeUp();
    await waitFor(async () => (await acked()) === 12, 20_000, "every batch acked");

    const stored = es.documents("vigil-alerts");
    const ids = stored.map((document) => (document.event as EcsDocument).id as string);
    expect(new Set(ids).size).toBe(ids.length);
    const repeated = stored.filter(
      (document) => (document.process as EcsDocument).command_line === "cat /etc/shadow",
    );
    expect(repeated.length).toBe(1);
    const others = ids.filter((id) => id !== (repeated[0]?.event as EcsDocument | undefined)?.id);
    expect(others.sort()).toEqual([...distinct].sort());
    // 24 identical reads: one alert that says so.
    await waitFor(
      () => {
        const [document] = es
          .documents("vigil-alerts")
          .filter((candidate) => (candidate.process as EcsDocument).command_line === "cat /etc/shadow");
        return ((document?.vigil as EcsDocument | undefined)?.alert as EcsDocument | undefined)?.count === 24;
      },
      10_000,
      "the deduplicated alert's count",
    );
    expect(es.counters.rejectedBulkRequests).toBe(15);
  });

  test("an alert Elasticsearch can never index goes to the dead-letter stream with the reason; the rest are stored", async () => {
    const publisher = await startHubs(1, 0);
    const refused = alertId(RULE_ID, "agent-1:1:0");
    es.failItem(refused, "mapper_parsing", Number.POSITIVE_INFINITY);
    await publishBatch(publisher, 1, [
      execEvent(1, 0, "cat /etc/shadow"),
      execEvent(1, 1, "less /etc/shadow"),
    ]);
    await waitFor(async () => (await acked()) === 1, 10_000, "batch acked");
    expect(es.documents("vigil-alerts").map((document) => (document.event as EcsDocument).id)).toEqual([
      alertId(RULE_ID, "agent-1:1:1"),
    ]);
    const dead = await publisher.readStream(DEAD_LETTER_STREAM, { limit: 10 });
    expect(dead.length).toBe(1);
    const letter = JSON.parse(Buffer.from(dead[0]?.data ?? []).toString()) as EcsDocument;
    expect(letter).toMatchObject({ sink: "elasticsearch", type: "mapper_parsing_exception" });
    expect(String(letter.reason)).toContain("failed to parse");
    expect((letter.alert as EcsDocument).event).toMatchObject({ id: refused });
  });
});
