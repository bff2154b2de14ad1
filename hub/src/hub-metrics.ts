import { Counter, Histogram, type Registry } from "@vigil/common";

export interface HubMetrics {
  batches: Counter<"outcome">;
  events: Counter;
  alerts: Counter<"level">;
  sinkErrors: Counter<"sink">;
  evaluateSeconds: Histogram;
}

export function createHubMetrics(registry: Registry): HubMetrics {
  return {
    batches: new Counter({
      name: "vigil_hub_batches_total",
      help: "Bus batches by outcome (acked, retried, poison)",
      labelNames: ["outcome"],
      registers: [registry],
    }),
    events: new Counter({
      name: "vigil_hub_events_total",
      help: "Events evaluated against the ruleset",
      registers: [registry],
    }),
    alerts: new Counter({
      name: "vigil_hub_alerts_total",
      help: "Alerts produced, by level",
      labelNames: ["level"],
      registers: [registry],
    }),
    sinkErrors: new Counter({
      name: "vigil_hub_sink_errors_total",
      help: "Failed alert writes, by sink (the batch is redelivered)",
      labelNames: ["sink"],
      registers: [registry],
    }),
    evaluateSeconds: new Histogram({
      name: "vigil_hub_evaluate_seconds",
      help: "Time to evaluate one bus batch against the ruleset",
      buckets: [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5],
      registers: [registry],
    }),
  };
}
