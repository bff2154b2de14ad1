// Correlation window updates against a real nats-server -js KV bucket (one
// compare-and-set write per window per batch):
//   spread         one engine, batches of 200 discovery events over 200 hosts
//                  (200 windows per batch, written 32 at a time)
//   hot window     two engines on two connections, one host: every event
//                  lands on the same window, so the engines race and retry
// Rates are wall-clock windows updated per second (the KV round trip bounds
// them, not the CPU) and the hub CPU each update costs.
//   npm run build && node bench/correlation.mts [seconds-per-measurement]
import type { EcsDocument } from "@vigil/common";
import { CORRELATION_BUCKET, type CorrelatedMatch, CorrelationEngine } from "@vigil/hub";
import { discoveryBurstRules } from "../test/fixtures/correlation-rules.ts";
import { compileTestRules } from "../test/harness/compile-test-rules.ts";
import { HubOnNats } from "../test/harness/hub-on-nats.ts";
import { benchSeconds, report } from "./bench-util.mts";

const SECONDS = Number(process.argv[2] ?? benchSeconds());
const rules = compileTestRules(discoveryBurstRules(20, "1m"), "bench-correlation.yml");

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

const stack = await HubOnNats.start();
try {
  const engine = async (name: string) =>
    new CorrelationEngine({
      kv: await (await stack.connect(name)).openKv(CORRELATION_BUCKET),
      logger: stack.logger,
    });
  const engineA = await engine("bench-correlation-a");
  const engineB = await engine("bench-correlation-b");
  await run("correlation updates spread", [engineA], () => matches(200, 200));
  await run("correlation updates hot window", [engineA, engineB], () => matches(1, 1));
} finally {
  await stack.stop();
}
