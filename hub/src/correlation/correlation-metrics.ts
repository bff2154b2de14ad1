import { Counter, type Registry } from "@vigil/common";
import type { CorrelationCounters, CorrelationEngine } from "./correlation-engine";

const HELP: Record<keyof CorrelationCounters, string> = {
  updates: "Correlation window writes (one per window per batch)",
  conflicts: "Correlation window writes that lost a compare-and-set race to another hub and were retried",
  fires: "Correlation windows that fired",
  replays: "Correlation fires produced again for a redelivered triggering event",
};

/** The engine's counters as Prometheus counters, read at scrape time. */
export function registerCorrelationMetrics(registry: Registry, engine: CorrelationEngine): void {
  for (const key of Object.keys(HELP) as Array<keyof CorrelationCounters>) {
    let reported = 0;
    new Counter({
      name: `vigil_hub_correlation_${key}_total`,
      help: HELP[key],
      registers: [registry],
      collect() {
        this.inc(engine.counters[key] - reported);
        reported = engine.counters[key];
      },
    });
  }
}
