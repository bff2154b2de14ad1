import type { HealthReport } from "@vigil/common";
import type { EventsWriter } from "./events-writer";

// The hub's /healthz with its events writer: whether the writer consumes and
// the last error of its sinks, so an Elasticsearch outage that holds back
// events shows where one that holds back alerts does. A sink error is
// reported, not unhealthy: restarting the hub would not bring the store back,
// and nothing is lost while the batches wait on the bus.

export function withEventsWriterHealth(report: HealthReport, writer: EventsWriter | undefined): HealthReport {
  if (writer === undefined) return report;
  const checks = writer.health();
  return {
    healthy: report.healthy && checks.eventsWriter === "consuming",
    checks: { ...report.checks, ...checks },
  };
}
