// Correlation window updates against a real nats-server -js KV bucket (one
// compare-and-set write per window per batch):
//   spread         one engine, batches of 200 discovery events over 200 hosts
//                  (200 windows per batch, written 32 at a time)
//   hot window     two engines on two connections, one host: every event
//                  lands on the same window, so the engines race and retry
// Rates are wall-clock windows updated per second (the KV round trip bounds
// them, not the CPU) and the hub CPU each update costs.
//   npm run build && node bench/correlation.mts [seconds-per-measurement]
import { connectNatsBus, type EcsDocument, silentLogger } from "@vigil/common";
import {
  CORRELATION_BUCKET,
  type CorrelatedMatch,
  CorrelationEngine,
  compileRuleSources,
  Ruleset,
  SigmaRuleEvaluator,
} from "@vigil/hub";
import { startNatsServer } from "../test/harness/nats-server.ts";
import { benchSeconds, report } from "./bench-util.mts";

const SECONDS = Number(process.argv[2] ?? benchSeconds());
const logger = silentLogger();

const RULES = `title: Discovery command
id: 3f4e5d6c-0000-4000-8000-0000000000d1
name: discovery_command
level: low
logsource: { product: linux, category: process_creation }
detection:
  selection: { Image|endswith: /id }
  condition: selection
---
title: Discovery burst
id: 3f4e5d6c-0000-4000-8000-0000000000c1
level: medium
correlation:
  type: event_count
  rules: [discovery_command]
  group-by: [host.name]
  timespan: 1m
  condition: { gte: 20 }
`;

const compiled = compileRuleSources([{ source: "bench-correlation.yml", text: RULES }]);
if (compiled.errors.length > 0) throw compiled.errors[0];
const rules = new SigmaRuleEvaluator(new Ruleset(compiled.rules), "1", compiled.correlations);

let sequence = 0;
function matches(hosts: number, count: number): CorrelatedMatch[] {
  const out: CorrelatedMatch[] = [];
  for (let i = 0; i < count; i++) {
    sequence++;
    const document: EcsDocument = {
      "@timestamp": new Date(Date.now()).toISOString(),
      event: { id: `bench:1:${sequence}`, category: ["process"], type: ["start"], action: "exec" },
      host: { name: `host-${i % hosts}` },
      process: { executable: "/usr/bin/id", pid: sequence },
    };
    rules.evaluate(document, out);
  }
  return out;
}

async function run(
  name: string,
  engines: CorrelationEngine[],
  batch: () => CorrelatedMatch[],
): Promise<void> {
  const before = engines.map((engine) => ({ ...engine.counters }));
  const cpuStart = process.cpuUsage();
  const started = performance.now();
  const deadline = started + SECONDS * 1000;
  while (performance.now() < deadline) {
    await Promise.all(engines.map((engine) => engine.process(batch(), new Date())));
  }
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuStart);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  const sum = (key: keyof CorrelationEngine["counters"]) =>
    engines.reduce((total, engine, i) => total + engine.counters[key] - before[i][key], 0);
  const updates = sum("updates");
  report(name, {
    "updates/s": Math.round(updates / seconds),
    "updates/cpu_s": Math.round(updates / cpuSeconds),
    conflicts_pct: Math.round((1000 * sum("conflicts")) / Math.max(1, updates)) / 10,
    fires: sum("fires"),
    seconds: Math.round(seconds * 10) / 10,
  });
}

const nats = await startNatsServer();
try {
  const busA = await connectNatsBus({ servers: [nats.url], name: "bench-correlation-a", logger });
  const busB = await connectNatsBus({ servers: [nats.url], name: "bench-correlation-b", logger });
  const engineA = new CorrelationEngine({ kv: await busA.openKv(CORRELATION_BUCKET), logger });
  const engineB = new CorrelationEngine({ kv: await busB.openKv(CORRELATION_BUCKET), logger });
  await run("correlation updates spread", [engineA], () => matches(200, 200));
  await run("correlation updates hot window", [engineA, engineB], () => matches(1, 1));
  await busA.close();
  await busB.close();
} finally {
  await nats.stop();
}
