// Alert delivery figures (DESIGN.md §4: p99 event → alert ≤ 1 s at 10k events/s).
//   hub alerts→ES bulk        ElasticsearchSink.write of real alerts (the default
//                             ruleset's, from the scenario attacks) to the loopback
//                             ES double, 1000 alerts per write as a busy batch
//                             brings them: alerts/s and MB/s. The double runs in
//                             this process, so this is a floor for the sink.
//   hub event→alert latency   events published at a steady 10k/s (batches of
//                             100 every 10 ms, 1% attacks) on a real nats-server
//                             (the in-process bus when nats-server is missing),
//                             one hub with the default ruleset, dedup state in KV,
//                             ES double sink; latency is from the event's time to
//                             the alert on vigil.alerts.<level> (published only
//                             after ES stored it): p50/p99/max.
//   npm run build && node bench/hub-alerts.mts [seconds-at-10k/s] [alerts-to-write]
import {
  type Alert,
  type Bus,
  connectNatsBus,
  createMemoryBus,
  decodeBusBatch,
  defaultStreams,
  type EcsDocument,
  eventsSubject,
  silentLogger,
} from "@vigil/common";
import {
  AlertDeduplicator,
  alertDedupBucket,
  CORRELATION_BUCKET,
  CorrelationEngine,
  DEFAULT_RULES_DIR,
  ElasticsearchSink,
  HubService,
  loadRuleSources,
  Ruleset,
  SigmaRuleEvaluator,
} from "@vigil/hub";
import type { BusEventBatch } from "@vigil/proto";
import { ElasticsearchDouble } from "../test/doubles/elasticsearch-double.ts";
import { findNatsServer, startNatsServer } from "../test/harness/nats-server.ts";
import { benchIdentity, encodeBusBatch, eventMix, report, toBusBatches, toEvents } from "./bench-util.mts";

const LATENCY_SECONDS = Number(process.argv[2] ?? 10);
const ALERTS_TO_WRITE = Number(process.argv[3] ?? 20_000);
const RATE = 10_000;
const BATCH_EVENTS = 100;
const TARGET_P99_MS = 1000;
const logger = silentLogger();

// Base rules and correlations, as the hub loads the directory.
const loaded = loadRuleSources(DEFAULT_RULES_DIR);
for (const error of loaded.errors) process.stderr.write(`rule error: ${error.message}\n`);
const evaluator = new SigmaRuleEvaluator(new Ruleset(loaded.rules), "1", loaded.correlations);

// ---- 1. bulk write throughput --------------------------------------------------

async function writeThroughput(): Promise<void> {
  // Real alerts: every event an attack line (distinct pids → distinct alerts).
  const evaluatorOnly = new HubService({
    bus: createMemoryBus(),
    rules: evaluator,
    sinks: [],
    consumer: { maxInFlight: 1, ackWaitMs: 30_000, maxDeliver: 1, retryDelayMs: 0 },
    logger,
  });
  const alerts: Alert[] = [];
  const batches = toBusBatches(benchIdentity(), toEvents(eventMix(ALERTS_TO_WRITE, 1)));
  for (const batch of batches) {
    alerts.push(...evaluatorOnly.evaluateBatch(decodeBusBatch(encodeBusBatch(batch))));
    if (alerts.length >= ALERTS_TO_WRITE) break;
  }
  alerts.length = Math.min(alerts.length, ALERTS_TO_WRITE);
  const es = await ElasticsearchDouble.start();
  const sink = new ElasticsearchSink({ config: { nodes: [es.url] } });
  await sink.start();
  const bytes = alerts.reduce((sum, alert) => sum + JSON.stringify(alert.document).length, 0);
  const cpuBefore = process.cpuUsage();
  const started = process.hrtime.bigint();
  for (let start = 0; start < alerts.length; start += 1000)
    await sink.write(alerts.slice(start, start + 1000));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const cpu = process.cpuUsage(cpuBefore);
  const stored = es.documents("vigil-alerts").length;
  report("hub alerts→ES bulk", {
    alerts: stored,
    "alerts/s": Math.round(stored / seconds),
    "MB/s": Number((bytes / 1e6 / seconds).toFixed(1)),
    bulk_requests: es.counters.bulkRequests,
    bytes_per_alert: Math.round(bytes / alerts.length),
    "cpu_s(sink+double)": Number(((cpu.user + cpu.system) / 1e6).toFixed(2)),
  });
  await sink.close();
  await es.stop();
}

// ---- 2. event → alert latency at 10k events/s ------------------------------------

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

async function latency(): Promise<void> {
  const natsAvailable = (() => {
    try {
      findNatsServer();
      return true;
    } catch {
      return false;
    }
  })();
  const nats = natsAvailable ? await startNatsServer() : undefined;
  const memory = nats ? undefined : createMemoryBus();
  const connect = async (name: string): Promise<Bus> =>
    nats ? connectNatsBus({ servers: [nats.url], name, logger }) : (memory as Bus);
  const hubBus = await connect("bench-hub");
  const publisher = await connect("bench-server");
  await publisher.ensureStreams(defaultStreams());
  const es = await ElasticsearchDouble.start();
  const sink = new ElasticsearchSink({ config: { nodes: [es.url] } });
  await sink.start();
  const hub = new HubService({
    bus: hubBus,
    rules: evaluator,
    sinks: [sink],
    consumer: { maxInFlight: 64, ackWaitMs: 30_000, maxDeliver: 10, retryDelayMs: 200 },
    logger,
    dedup: new AlertDeduplicator({ kv: await hubBus.openKv(alertDedupBucket()) }),
    // Correlation windows in KV, as startHub runs them.
    correlation: new CorrelationEngine({ kv: await hubBus.openKv(CORRELATION_BUCKET), logger }),
  });
  await hub.start();

  const latencies: number[] = [];
  const subscription = publisher.subscribe("vigil.alerts.>", (_subject, data) => {
    const document = JSON.parse(Buffer.from(data).toString("utf8")) as EcsDocument;
    latencies.push(Date.now() - Date.parse(String(document["@timestamp"])));
  });

  const total = RATE * LATENCY_SECONDS;
  const batches = toBusBatches(benchIdentity(), toEvents(eventMix(total, 0.01)), BATCH_EVENTS);
  const intervalMs = (1000 * BATCH_EVENTS) / RATE;
  const started = Date.now();
  for (let index = 0; index < batches.length; index++) {
    const due = started + index * intervalMs;
    const wait = due - Date.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    const batch = batches[index] as BusEventBatch;
    const nowUs = Date.now() * 1000;
    for (const event of batch.events) event.timestampUs = nowUs;
    await publisher.publish(eventsSubject(batch.agentId), encodeBusBatch(batch), {
      msgId: `${batch.agentId}:${batch.sequence}`,
    });
  }
  const sendSeconds = (Date.now() - started) / 1000;
  const evaluated = async () => {
    const data = await hub.metricsRegistry.getSingleMetric("vigil_hub_events_total")?.get();
    return data?.values.reduce((sum, sample) => sum + sample.value, 0) ?? 0;
  };
  const deadline = Date.now() + 60_000;
  while ((await evaluated()) < total && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  // The last batches' alerts: allow their writes to finish.
  await new Promise((resolve) => setTimeout(resolve, 500));
  subscription.unsubscribe();
  const sorted = [...latencies].sort((left, right) => left - right);
  const p99 = percentile(sorted, 99);
  report(`hub event→alert latency (${nats ? "nats" : "memory"})`, {
    rules: loaded.rules.length,
    correlations: loaded.correlations.length,
    "events/s": Math.round(total / sendSeconds),
    events_evaluated: await evaluated(),
    alerts: latencies.length,
    stored_in_es: es.documents("vigil-alerts").length,
    p50_ms: percentile(sorted, 50),
    p99_ms: p99,
    max_ms: sorted.at(-1) ?? Number.NaN,
    vs_target: `${(TARGET_P99_MS / Math.max(p99, 1)).toFixed(1)}x`,
  });
  await hub.stop();
  await sink.close();
  await es.stop();
  if (nats) {
    await hubBus.close();
    await publisher.close();
    await nats.stop();
  } else {
    await memory?.close();
  }
}

await writeThroughput();
await latency();
