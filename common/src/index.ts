// Public face of @vigil/common: config, logging, bus, metrics, alert types and
// the ECS document shape shared by every Vigil program.
export { ErrorCodes, ERROR_DOCS, VigilError, isVigilError } from "./errors";
export type { ErrorCode } from "./errors";

export { loadConfig } from "./config/load-config";
export type { LoadConfigOptions } from "./config/load-config";
export { envBoolean, isLoopbackHost, listOf, natsConfigSchema } from "./config/schema-helpers";
export type { NatsConfig } from "./config/schema-helpers";

export { createLogger, silentLogger } from "./observability/logger";
export type { Logger, LoggerOptions } from "./observability/logger";
export { Counter, Gauge, Histogram, Registry, createMetricsRegistry } from "./observability/metrics";
export { startObservabilityServer } from "./observability/http-endpoints";
export type { HealthReport, ObservabilityServer, ObservabilityServerOptions } from "./observability/http-endpoints";

export type {
  Bus,
  BusMessage,
  Consumption,
  ConsumeOptions,
  MessageHandler,
  PublishAck,
  PublishOptions,
  StreamSpec,
  Subscription,
} from "./bus/types";

export {
  AGENT_ID_PATTERN,
  ALERTS_STREAM,
  DEAD_LETTER_STREAM,
  EVENTS_STREAM,
  HUB_DURABLE,
  alertsSubject,
  batchMessageId,
  defaultStreams,
  eventsSubject,
} from "./streams/subjects";

export { ALERT_LEVELS, SEVERITY_BY_LEVEL } from "./alerts/types";
export type { Alert, AlertLevel, AlertQuery, AlertReader, AlertRule, AlertSink, EcsDocument } from "./alerts/types";

export { toEcsDocument } from "./ecs/to-ecs-document";

export { SqliteAlertStore } from "./alerts/sqlite-alert-store";
export type { AlertStoreStats, SqliteAlertStoreOptions } from "./alerts/sqlite-alert-store";

export { createMemoryBus, MemoryBus } from "./bus/memory-bus";
export type { MemoryBusOptions } from "./bus/memory-bus";
export { connectNatsBus, NatsBus } from "./bus/nats-bus";
export type { NatsBusOptions, NatsBusTlsOptions } from "./bus/nats-bus-options";
