import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type Alert,
  type AlertSink,
  createMemoryBus,
  defaultStreams,
  type EcsDocument,
  eventsSubject,
  type MemoryBus,
  SqliteAlertStore,
  silentLogger,
} from "@vigil/common";
import { BusEventBatch, type CanonicalEvent } from "@vigil/proto";
import { ElasticsearchDouble } from "../../test/doubles/elasticsearch-double";
import { busExecEvent } from "../../test/fixtures/bus-exec-event";
import { commandLineRule } from "../../test/fixtures/process-rule";
import { waitFor } from "../../test/harness/wait-for";
import { alertId } from "./alerts/build-alert";
import { DEAD_LETTER_SUBJECT, HubService } from "./hub-service";
import { SigmaRuleEvaluator } from "./rules/rule-evaluator";
import { compileRule, Ruleset } from "./sigma";
import { ElasticsearchSink } from "./sinks/elasticsearch-sink";

const RULE = commandLineRule("/etc/shadow", {
  id: "5a0d8d4e-6a43-4c2e-9a55-3f0f1c0d7b11",
  title: "Shadow file in a command line",
  tags: ["attack.credential-access", "attack.t1003.008"],
});

const logger = silentLogger();

function execEvent(index: number, commandLine: string): CanonicalEvent {
  return busExecEvent({
    id: `agent-1:1:${index}`,
    timestampUs: 1_763_900_000_000_000 + index,
    pid: 100 + index,
    commandLine,
  });
}

async function publishBatch(bus: MemoryBus, sequence: number, events: CanonicalEvent[]): Promise<void> {
  const data = BusEventBatch.encode({
    agentId: "agent-1",
    sequence,
    serverId: "s",
    receivedUs: 0,
    events,
    // As the server sends them: once per batch, not on each event.
    host: { id: "agent-1", name: "web-01", hostname: "web-01", architecture: "", ip: [], os: undefined },
    agent: { id: "agent-1", type: "vigil-agent", version: "0.1.0" },
    parents: [],
  }).finish();
  await bus.publish(eventsSubject("agent-1"), data, { msgId: `agent-1:${sequence}` });
}

/** A sink that fails its first `failures` writes, like a database that is briefly down. */
class FlakySink implements AlertSink {
  readonly name = "flaky";
  readonly stored = new Map<string, Alert>();
  constructor(private failures: number) {}
  async write(alerts: Alert[]): Promise<void> {
    if (this.failures-- > 0) throw new Error("sink down");
    for (const alert of alerts) this.stored.set(alert.id, alert);
  }
  async close(): Promise<void> {}
}

describe("hub service - evaluate, store, then ack", () => {
  let dir: string;
  let bus: MemoryBus;
  const rules = new SigmaRuleEvaluator(new Ruleset([compileRule(RULE, "test-rule.yml")]));
  const consumer = { maxInFlight: 4, ackWaitMs: 2000, maxDeliver: 50, retryDelayMs: 20 };

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), "vigil-hub-"));
    bus = createMemoryBus();
    await bus.ensureStreams(defaultStreams());
  });
  afterEach(async () => {
    await bus.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test("matching events become ECS alerts in the store; the alert id is derived from rule and event", async () => {
    const store = new SqliteAlertStore({ path: join(dir, "alerts.db") });
    const hub = new HubService({ bus, rules, sinks: [store], consumer, logger });
    await hub.start();
    await publishBatch(bus, 1, [execEvent(0, "cat /etc/shadow"), execEvent(1, "cat /etc/hostname")]);
    await waitFor(async () => (await store.query({ limit: 10 })).length === 1, 3000, "one alert");
    const [alert] = await store.query({ limit: 10 });
    expect(alert).toMatchObject({
      event: {
        kind: "alert",
        id: alertId("5a0d8d4e-6a43-4c2e-9a55-3f0f1c0d7b11", "agent-1:1:0"),
        severity: 73,
      },
      rule: { id: "5a0d8d4e-6a43-4c2e-9a55-3f0f1c0d7b11", name: "Shadow file in a command line" },
      threat: { framework: "MITRE ATT&CK", technique: [{ id: "T1003.008" }] },
      process: { pid: 100, command_line: "cat /etc/shadow" },
      host: { name: "web-01" },
      vigil: { alert: { level: "high" }, event_id: "agent-1:1:0" },
    });
    expect(String(alert.message)).toContain("/etc/shadow");
    await hub.stop();
    await store.close();
  });

  test("a sink outage delays the alert and the batch is redelivered until it is stored once", async () => {
    const sink = new FlakySink(3);
    const hub = new HubService({ bus, rules, sinks: [sink], consumer, logger });
    await hub.start();
    await publishBatch(bus, 2, [execEvent(5, "less /etc/shadow")]);
    await waitFor(() => sink.stored.size === 1, 3000, "alert stored after retries");
    const sequence = await bus.publish(eventsSubject("agent-1"), new Uint8Array(), { msgId: "agent-1:2" });
    expect(sequence.duplicate).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(sink.stored.size).toBe(1);
    expect(await hub.metricsRegistry.getSingleMetricAsString("vigil_hub_batches_total")).toContain(
      'outcome="retried"',
    );
    await hub.stop();
  });

  test("an alert Elasticsearch refuses for good goes to the dead-letter subject and the batch is acked", async () => {
    const es = await ElasticsearchDouble.start();
    const sink = new ElasticsearchSink({ config: { nodes: [es.url], maxRetries: 1, retryBaseDelayMs: 10 } });
    await sink.start();
    const dead: EcsDocument[] = [];
    bus.subscribe(DEAD_LETTER_SUBJECT, (_subject, data) =>
      dead.push(JSON.parse(Buffer.from(data).toString())),
    );
    const refusedId = alertId("5a0d8d4e-6a43-4c2e-9a55-3f0f1c0d7b11", "agent-1:1:0");
    es.failItem(refusedId, "document_parsing", 100);
    const hub = new HubService({ bus, rules, sinks: [sink], consumer, logger });
    await hub.start();
    await publishBatch(bus, 3, [execEvent(0, "cat /etc/shadow"), execEvent(1, "head /etc/shadow")]);
    await waitFor(() => dead.length === 1, 5000, "dead-lettered alert");
    expect(dead[0]).toMatchObject({ sink: "elasticsearch", type: "document_parsing_exception" });
    expect((dead[0].alert as EcsDocument).event).toMatchObject({ id: refusedId });
    await waitFor(() => es.documents("vigil-alerts").length === 1, 3000, "the other alert in ES");
    expect(await hub.metricsRegistry.getSingleMetricAsString("vigil_hub_batches_total")).toContain(
      'outcome="acked"',
    );
    await hub.stop();
    await sink.close();
    await es.stop();
  });

  test("an undecodable bus message is terminated, not retried forever, and later batches still flow", async () => {
    const sink = new FlakySink(0);
    const hub = new HubService({ bus, rules, sinks: [sink], consumer, logger });
    await hub.start();
    await bus.publish(eventsSubject("agent-1"), Buffer.from([0xff, 0xff, 0xff, 0xff]), { msgId: "junk" });
    await publishBatch(bus, 4, [execEvent(9, "tail /etc/shadow")]);
    await waitFor(() => sink.stored.size === 1, 3000, "the good batch");
    expect(await hub.metricsRegistry.getSingleMetricAsString("vigil_hub_batches_total")).toContain(
      'outcome="poison"',
    );
    expect(hub.health().healthy).toBe(true);
    await hub.stop();
  });
});
