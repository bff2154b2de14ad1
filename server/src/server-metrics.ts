import { Counter, Gauge, Histogram, type Registry } from "@vigil/common";

export interface ServerMetrics {
  streams: Gauge;
  batches: Counter<"status">;
  events: Counter;
  eventsDropped: Counter<"reason">;
  protocolErrors: Counter<"reason">;
  publishSeconds: Histogram;
  enrollments: Counter<"outcome">;
  /** Agent batches read from a stream and not yet acked (waiting for, or in, their publish). */
  acksPending: Gauge;
  /** Bytes of agent messages read and not yet done with, server-wide (bounded by grpc.maxInFlightBytes). */
  inFlightBytes: Gauge;
  /** Times a stream stopped being read, by cause (stream-backlog, server-bytes, rate-limit). */
  backpressurePauses: Counter<"cause">;
}

export function createServerMetrics(registry: Registry): ServerMetrics {
  return {
    streams: new Gauge({
      name: "vigil_server_agent_streams",
      help: "Open agent streams",
      registers: [registry],
    }),
    batches: new Counter({
      name: "vigil_server_batches_total",
      help: "Agent batches by outcome (stored, duplicate, rejected, failed)",
      labelNames: ["status"],
      registers: [registry],
    }),
    events: new Counter({
      name: "vigil_server_events_total",
      help: "Events normalized and published to the bus",
      registers: [registry],
    }),
    eventsDropped: new Counter({
      name: "vigil_server_events_dropped_total",
      help: "Events dropped during normalization, by reason",
      labelNames: ["reason"],
      registers: [registry],
    }),
    protocolErrors: new Counter({
      name: "vigil_server_protocol_errors_total",
      help: "Agent streams ended for protocol violations, by reason",
      labelNames: ["reason"],
      registers: [registry],
    }),
    publishSeconds: new Histogram({
      name: "vigil_server_publish_seconds",
      help: "Time from batch received to bus ack",
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5],
      registers: [registry],
    }),
    enrollments: new Counter({
      name: "vigil_server_enrollments_total",
      help: "Agent enrolment attempts by outcome (enrolled, token-invalid, token-expired, token-used, token-revoked, agent-revoked, agent-exists, bad-request)",
      labelNames: ["outcome"],
      registers: [registry],
    }),
    acksPending: new Gauge({
      name: "vigil_server_acks_pending",
      help: "Agent batches read and not yet acked (waiting for, or in, their bus publish)",
      registers: [registry],
    }),
    inFlightBytes: new Gauge({
      name: "vigil_server_in_flight_bytes",
      help: "Bytes of agent messages read and not yet handled, server-wide (bound: grpc.maxInFlightBytes)",
      registers: [registry],
    }),
    backpressurePauses: new Counter({
      name: "vigil_server_backpressure_pauses_total",
      help: "Times an agent stream stopped being read (HTTP/2 flow control), by cause (stream-backlog, server-bytes, rate-limit)",
      labelNames: ["cause"],
      registers: [registry],
    }),
  };
}
