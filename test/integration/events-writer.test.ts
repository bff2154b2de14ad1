// The events writer on a real nats-server -js: the captured vigil.ko stream
// published as bus batches, written to the SQLite event store and to the
// Elasticsearch double's vigil-events data stream. A batch is acked only once
// both hold its events: through an Elasticsearch outage the batches stay
// unacked and come again, and afterwards both stores hold exactly the kept
// events, once each.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type Bus,
  createMetricsRegistry,
  type EcsDocument,
  EVENTS_STREAM,
  eventsSubject,
  type HealthReport,
  type Registry,
  SqliteEventStore,
} from "@vigil/common";
import {
  ElasticsearchEventSink,
  EVENTS_DATA_STREAM,
  EVENTS_DEAD_LETTER_SUBJECT,
  EVENTS_INDEX_TEMPLATE_NAME,
  EVENTS_WRITER_DURABLE,
  EventsWriter,
} from "@vigil/hub";
import { BusEventBatch } from "@vigil/proto";
import { unitHash } from "../../hub/src/events/event-selection";
import { capturedBusBatches, capturedDocuments } from "../harness/events-captured-documents";
import { HubOnNats } from "../harness/hub-on-nats";
import { waitFor } from "../harness/wait-for";

const documents = capturedDocuments();
const actionOf = (doc: EcsDocument) => (doc.event as { action: string }).action;
const idOf = (doc: EcsDocument) => (doc.event as { id: string }).id;
const SAMPLE = { fork: 0.5 };
const EXCLUDE = ["device-opened"];
/** What the writer must keep: no device-opened, half the forks by event id, everything else. */
const kept = documents.filter(
  (doc) =>
    !EXCLUDE.includes(actionOf(doc)) && (actionOf(doc) !== "fork" || unitHash(idOf(doc)) < SAMPLE.fork),
);

async function counter(registry: Registry, name: string, labels: Record<string, string>): Promise<number> {
  const data = await registry.getSingleMetric(name)?.get();
  return (data?.values ?? [])
    .filter((sample) => Object.entries(labels).every(([key, value]) => sample.labels[key] === value))
    .reduce((sum, sample) => sum + sample.value, 0);
}

async function publishCapture(bus: Bus): Promise<number> {
  const batches = capturedBusBatches(20);
  for (const batch of batches) {
    await bus.publish(eventsSubject(batch.agentId), BusEventBatch.encode(batch).finish(), {
      msgId: `${batch.agentId}:${batch.sequence}`,
    });
  }
  return batches.length;
}

describe("events writer on NATS", () => {
  let harness: HubOnNats;
  let dir: string;
  let store: SqliteEventStore;
  let reader: SqliteEventStore;

  beforeEach(async () => {
    harness = await HubOnNats.start({ elasticsearch: true });
    dir = mkdtempSync(join(tmpdir(), "events-writer-"));
    store = new SqliteEventStore({ path: join(dir, "events.db") });
    reader = new SqliteEventStore({ path: join(dir, "events.db") });
    harness.closeWith(async () => {
      await store.close();
      await reader.close();
    });
  });

  afterEach(async () => {
    await harness.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  async function startWriter(bus: Bus, registry: Registry): Promise<EventsWriter> {
    const sink = new ElasticsearchEventSink({
      config: { nodes: [harness.es.url], maxRetries: 0, requestTimeoutMs: 2000 },
    });
    const writer = new EventsWriter({
      bus,
      sinks: [store, sink],
      selection: { exclude: EXCLUDE, sample: SAMPLE },
      consumer: { maxInFlight: 8, ackWaitMs: 5000, maxDeliver: 1000, retryDelayMs: 50 },
      logger: harness.logger,
      registry,
    });
    harness.closeWith(async () => {
      await writer.stop();
      await sink.close();
    });
    await writer.start();
    return writer;
  }

  test("events writer - keeps the selected events in both stores, acking only after Elasticsearch came back", async () => {
    expect(kept.length).toBeGreaterThan(100);
    const forks = documents.filter((doc) => actionOf(doc) === "fork").length;
    const keptForks = kept.filter((doc) => actionOf(doc) === "fork").length;
    expect(keptForks).toBeGreaterThan(0);
    expect(keptForks).toBeLessThan(forks);

    const bus = await harness.connect("events-writer");
    const registry = createMetricsRegistry("events-writer-test");
    await harness.es.goDown();
    await startWriter(bus, registry);
    const published = await publishCapture(await harness.connect("publisher"));

    // Elasticsearch is down: writes fail, the batches are not acked and come again.
    await waitFor(
      async () =>
        (await counter(registry, "vigil_events_writer_sink_errors_total", { sink: "elasticsearch" })) >= 3,
      20_000,
      "failed Elasticsearch writes",
    );
    const during = await bus.consumerState?.(EVENTS_STREAM, EVENTS_WRITER_DURABLE);
    expect((during?.pending ?? 0) + (during?.ackPending ?? 0)).toBeGreaterThan(0);
    expect(await counter(registry, "vigil_events_writer_batches_total", { outcome: "acked" })).toBe(0);

    await harness.es.comeUp();
    await waitFor(
      async () =>
        (await counter(registry, "vigil_events_writer_batches_total", { outcome: "acked" })) === published,
      30_000,
      "every batch acked",
    );
    const after = await bus.consumerState?.(EVENTS_STREAM, EVENTS_WRITER_DURABLE);
    expect(after).toMatchObject({ pending: 0, ackPending: 0 });

    // Exactly the kept events, once each, in both stores; the redeliveries added nothing.
    const expectedIds = kept.map(idOf).sort();
    const inElasticsearch = harness.es.documents(EVENTS_DATA_STREAM).map(idOf).sort();
    expect(inElasticsearch).toEqual(expectedIds);
    expect(harness.es.isDataStream(EVENTS_DATA_STREAM)).toBe(true);
    expect(harness.es.template(EVENTS_INDEX_TEMPLATE_NAME)?.index_patterns).toEqual(["vigil-events*"]);
    const page = await reader.search({ size: 1000, order: "asc" });
    expect(page.events.map(idOf).sort()).toEqual(expectedIds);
    expect((await reader.stats()).events).toBe(kept.length);
    // The documents are the hub's ECS documents, unchanged.
    const shadow = kept.find(
      (doc) => (doc.process as { command_line?: string })?.command_line === "cat /etc/shadow",
    );
    expect(
      harness.es.documents(EVENTS_DATA_STREAM).find((doc) => idOf(doc) === idOf(shadow as EcsDocument)),
    ).toEqual(JSON.parse(JSON.stringify(shadow)));
    expect(
      await counter(registry, "vigil_events_writer_events_total", { outcome: "excluded" }),
    ).toBeGreaterThan(0);
  });

  test("events writer - the hub's /healthz shows the writer's sink error while Elasticsearch is down, and clears after", async () => {
    const hub = await harness.startHub({
      hubId: "events-health",
      watchRulesets: false,
      metrics: { host: "127.0.0.1", port: 0 },
      elasticsearch: { maxRetries: 0, requestTimeoutMs: 2000 },
      events: { enabled: true, consumer: { ackWaitMs: 5000, retryDelayMs: 50 } },
    });
    const healthz = async () => {
      const response = await fetch(`http://127.0.0.1:${hub.metricsPort}/healthz`);
      return { status: response.status, body: (await response.json()) as HealthReport };
    };
    const before = await healthz();
    expect(before.status).toBe(200);
    expect(before.body.checks).toMatchObject({ eventsWriter: "consuming", eventSinks: "ok" });

    await harness.es.goDown();
    const published = await publishCapture(await harness.connect("publisher"));
    let during: HealthReport | undefined;
    await waitFor(
      async () => {
        during = (await healthz()).body;
        return during.checks.eventSinks !== "ok";
      },
      20_000,
      "the events writer's sink error in /healthz",
    );
    // Named: the sink and what went wrong; the writer still consumes, so nothing waits on a restart.
    expect(during?.checks.eventSinks).toMatch(/^last error: elasticsearch: .+/);
    expect(during?.checks.eventsWriter).toBe("consuming");
    const registry = hub.service.metricsRegistry;
    expect(await counter(registry, "vigil_events_writer_batches_total", { outcome: "acked" })).toBe(0);

    await harness.es.comeUp();
    await waitFor(
      async () =>
        (await counter(registry, "vigil_events_writer_batches_total", { outcome: "acked" })) === published,
      30_000,
      "every batch acked",
    );
    const after = await healthz();
    expect(after.status).toBe(200);
    expect(after.body.checks).toMatchObject({ eventsWriter: "consuming", eventSinks: "ok" });

    // A stopped writer makes the hub unhealthy: its events would pile up on the bus.
    await hub.events?.writer.stop();
    const stopped = await healthz();
    expect(stopped.status).toBe(503);
    expect(stopped.body.checks.eventsWriter).toBe("stopped");
  });

  test("events writer - an event Elasticsearch refuses for good is set aside with the reason, the rest stored", async () => {
    const bus = await harness.connect("events-writer");
    const deadLetters: Array<{ sink: string; reason: string; event: EcsDocument }> = [];
    const subscription = bus.subscribe(EVENTS_DEAD_LETTER_SUBJECT, (_subject, data) =>
      deadLetters.push(JSON.parse(Buffer.from(data).toString("utf8"))),
    );
    harness.closeWith(async () => subscription.unsubscribe());
    const poison = kept[10] as EcsDocument;
    harness.es.failItem(idOf(poison), "mapper_parsing", 1000);
    const registry = createMetricsRegistry("events-writer-test");
    await startWriter(bus, registry);
    const published = await publishCapture(await harness.connect("publisher"));
    await waitFor(
      async () =>
        (await counter(registry, "vigil_events_writer_batches_total", { outcome: "acked" })) === published,
      30_000,
      "every batch acked",
    );
    await waitFor(() => deadLetters.length === 1, 10_000, "the dead letter");
    expect(deadLetters[0]?.sink).toBe("elasticsearch");
    expect(deadLetters[0]?.reason).toContain("mapper_parsing_exception");
    expect(idOf(deadLetters[0]?.event as EcsDocument)).toBe(idOf(poison));
    const stored = harness.es.documents(EVENTS_DATA_STREAM).map(idOf);
    expect(stored).toHaveLength(kept.length - 1);
    expect(stored).not.toContain(idOf(poison));
  });
});
