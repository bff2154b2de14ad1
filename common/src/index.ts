// Public face of @vigil/common: config, logging, bus, metrics, alert types and
// the ECS document shape shared by every Vigil program.

export type { AlertCursor } from "./alerts/alert-cursor";
export { decodeAlertCursor, encodeAlertCursor } from "./alerts/alert-cursor";
export type { AlertStoreStats, SqliteAlertStoreOptions } from "./alerts/sqlite-alert-store";
export { SqliteAlertStore } from "./alerts/sqlite-alert-store";
export type {
  Alert,
  AlertLevel,
  AlertPage,
  AlertQuery,
  AlertReader,
  AlertRule,
  AlertSearch,
  AlertSink,
  EcsDocument,
} from "./alerts/types";
export { ALERT_LEVELS, MAX_ALERT_PAGE_SIZE, MAX_ALERT_TEXT_LENGTH, SEVERITY_BY_LEVEL } from "./alerts/types";
export type { MemoryBusOptions } from "./bus/memory-bus";
export { createMemoryBus, MemoryBus } from "./bus/memory-bus";
export { connectNatsBus, NatsBus } from "./bus/nats-bus";
export type { NatsBusOptions, NatsBusTlsOptions } from "./bus/nats-bus-options";
export type {
  Bus,
  BusMessage,
  ConsumeOptions,
  ConsumerState,
  Consumption,
  MessageHandler,
  PublishAck,
  PublishOptions,
  ReadStreamOptions,
  StoredMessage,
  StreamSpec,
  Subscription,
} from "./bus/types";
export type { LoadConfigOptions } from "./config/load-config";
export { loadConfig } from "./config/load-config";
export type { NatsConfig } from "./config/schema-helpers";
export {
  envBoolean,
  isLoopbackHost,
  listOf,
  logLevelSchema,
  metricsEndpointSchema,
  natsConfigSchema,
} from "./config/schema-helpers";
export type { HealthServiceQuery, HealthServiceResult } from "./discovery/consul-client";
export { ConsulClient, ConsulHttpError } from "./discovery/consul-client";
export type { ConsulConnection, ConsulConnectionConfig } from "./discovery/consul-config";
export {
  consulConnectionSchema,
  consulConnectionShape,
  DEFAULT_CONSUL_ADDRESS,
  parseConsulAddress,
  resolveConsulConnection,
} from "./discovery/consul-config";
export type {
  ConsulAgentService,
  ConsulCheckDefinition,
  ConsulCheckStatus,
  ConsulHealthCheck,
  ConsulNode,
  ConsulServiceEntry,
  ConsulServiceRegistration,
} from "./discovery/consul-types";
export { completeBatchEvents, decodeBusBatch } from "./ecs/batch-events";
export { ecsDocumentOf, ecsEventView } from "./ecs/ecs-event-view";
export { processEntityId } from "./ecs/process-entity-id";
export { toEcsDocument } from "./ecs/to-ecs-document";
export type { ErrorCode } from "./errors";
export { ERROR_DOCS, ErrorCodes, isVigilError, VigilError } from "./errors";
export type { AlertContextOptions } from "./events/alert-context";
export { alertContext, DEFAULT_CONTEXT_MINUTES, MAX_CONTEXT_MINUTES } from "./events/alert-context";
export type { EventColumns } from "./events/event-columns";
export { eventColumns } from "./events/event-columns";
export type { EventCursor } from "./events/event-cursor";
export { decodeEventCursor, encodeEventCursor } from "./events/event-cursor";
export type { CheckedEventSearch } from "./events/event-search-check";
export { checkEventSearch } from "./events/event-search-check";
export type { ChildLink, ProcessEventLookup, TimeWindow } from "./events/process-tree";
export { buildProcessTree, checkTreeQuery, ProcessNotFoundError } from "./events/process-tree";
export { EVENT_STORE_MIGRATIONS, EVENT_STORE_SCHEMA_VERSION } from "./events/sqlite-event-schema";
export type { EventStoreStats, RetentionResult, SqliteEventStoreOptions } from "./events/sqlite-event-store";
export { SqliteEventStore } from "./events/sqlite-event-store";
export type {
  AlertContext,
  EventOrder,
  EventPage,
  EventQueries,
  EventRetention,
  EventSearch,
  EventSink,
  EventWriteResult,
  ProcessNode,
  ProcessRelation,
  ProcessTree,
  ProcessTreeQuery,
  RefusedEvent,
} from "./events/types";
export {
  MAX_EVENT_PAGE_SIZE,
  MAX_EVENT_TEXT_LENGTH,
  MAX_EVENTS_PER_PROCESS,
  MAX_TREE_DEPTH,
  MAX_TREE_PROCESSES,
} from "./events/types";
export { MemoryKv } from "./kv/memory-kv";
export type { KvBucket, KvBucketSpec, KvEntry, KvWatch, KvWatchOptions } from "./kv/types";
export type {
  HealthReport,
  ObservabilityServer,
  ObservabilityServerOptions,
} from "./observability/http-endpoints";
export { startObservabilityServer } from "./observability/http-endpoints";
export type { Logger, LoggerOptions } from "./observability/logger";
export { createLogger, silentLogger } from "./observability/logger";
export { Counter, createMetricsRegistry, Gauge, Histogram, Registry } from "./observability/metrics";
export type {
  AgentPolicy,
  DriverHookName,
  DriverPolicy,
  DriverPolicyLists,
  ParsedAgentSettings,
} from "./policy/agent-policy";
export {
  AGENT_LOG_LEVELS,
  AGENT_RUNTIME_LIMITS,
  AGENT_SETTING_KEYS,
  agentPolicySchema,
  allowEntryProblem,
  DRIVER_FILTER_LIMITS,
  DRIVER_HOOK_NAMES,
  driverPolicyCommandBytes,
  driverPolicySchema,
  EMPTY_AGENT_POLICY,
  encodeAgentSettings,
  hookNameProblem,
  MAX_SETTING_VALUE_BYTES,
  parseAgentSettings,
  parseDevIno,
  pathEntryProblem,
  previewValue,
  rssLimitSchema,
  watchedPrefixesSchema,
} from "./policy/agent-policy";
export { keepBatchObjectsYoung } from "./runtime/young-batch-objects";
export {
  AGENT_ID_PATTERN,
  ALERTS_STREAM,
  AUDIT_ACTION_PATTERN,
  AUDIT_STREAM,
  alertsSubject,
  auditSubject,
  batchMessageId,
  DEAD_LETTER_STREAM,
  defaultStreams,
  EVENTS_STREAM,
  eventsSubject,
  HUB_DURABLE,
} from "./streams/subjects";
