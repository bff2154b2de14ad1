import {
  type AlertReader,
  type Bus,
  createMetricsRegistry,
  defaultStreams,
  type EventQueries,
  type HealthReport,
  type Logger,
} from "@vigil/common";
import { DEFAULT_RULES_DIR } from "@vigil/hub";
import { API_TOKENS_BUCKET, ApiTokenStore } from "./api/auth/api-token-store";
import { type ReadinessReport, type RestApiOptions, startRestApi } from "./api/rest-api";
import { BusAuditTrail } from "./audit/bus-audit-trail";
import type { AuditTrail } from "./audit/types";
import type { ServerConfig } from "./config";
import { type ControlPlane, startControlPlane } from "./control/control-plane";
import { ConsulRegistration } from "./discovery/consul-registration";
import { EnrollmentStore } from "./enrollment/enrollment-store";
import { startGrpcIngress } from "./ingress/grpc-ingress";
import type { EffectivePolicy } from "./policy/effective-policy";
import { EventPublisher } from "./publish/event-publisher";
import { registerAgentFleetMetrics } from "./registry/agent-fleet-metrics";
import { AgentRegistry } from "./registry/agent-registry";
import { AGENTS_BUCKET } from "./registry/fleet-record";
import { FleetRegistry } from "./registry/fleet-registry";
import { startRules } from "./rules/start-rules";
import { createServerMetrics } from "./server-metrics";

export interface VigilServerDependencies {
  config: ServerConfig;
  bus: Bus;
  logger: Logger;
  /** Serves GET /api/v1/alerts when present. */
  alertReader?: AlertReader;
  /** Serves the event search, process tree and alert context when present. */
  eventQueries?: EventQueries;
  /** Serves /api/v1/reports when present (the hub's report store and on-demand generation). */
  reports?: RestApiOptions["reports"];
  /** Rules that seed an empty ruleset bucket (default: the hub's default rules directory). */
  rulesSeedDir?: string;
}

export interface VigilServer {
  readonly grpcPort: number;
  readonly apiPort: number;
  /** "METHOD /path" of every REST route (what the OpenAPI document must list). */
  readonly apiRoutes: readonly string[];
  readonly registry: AgentRegistry;
  /** Every server's agents (KV bucket vigil-agents); this server writes the ones it holds. */
  readonly fleet: FleetRegistry;
  /** Enrolled agents and enrollment tokens; present when enrollment.enabled. */
  readonly enrollment: EnrollmentStore | undefined;
  /** Present when consul.register is on. */
  readonly consulRegistration: ConsulRegistration | undefined;
  /** Records operator changes (VIGIL_AUDIT stream); pass it to routes that change things. */
  readonly audit: AuditTrail;
  health(): HealthReport;
  /** What /readyz answers: bus connected, KV watches open, not draining. */
  readiness(): ReadinessReport;
  /** Agent config documents and fleet tasks (KV buckets shared by every server). */
  readonly controlPlane: ControlPlane;
  /** The fleet default agent policy (what an agent without groups or labels gets). */
  agentPolicy(): EffectivePolicy;
  /**
   * Validates and installs a new agent policy (agentPolicy config shape) and
   * pushes it, as the next version, to every agent connected to this server.
   * Throws VIGIL_ERR_CONFIG_INVALID naming the bad key; the current version stays.
   */
  setAgentPolicy(policy: unknown): Promise<EffectivePolicy>;
  /**
   * Graceful drain: deregisters from Consul (agents' discovery moves them
   * away), refuses new streams, tells every agent to move (ServerMessage.drain),
   * gives open streams graceMs to finish their in-flight batches (publish +
   * ack), then closes (0 = cut now; agents resend what was not acked).
   */
  close(graceMs?: number): Promise<void>;
}

/** Composes the server tier: gRPC ingress → normalize → bus, plus the REST API. */
export async function startVigilServer(deps: VigilServerDependencies): Promise<VigilServer> {
  const { config, bus, logger } = deps;
  await bus.ensureStreams(defaultStreams());
  const apiTokens = await ApiTokenStore.open(await bus.openKv(API_TOKENS_BUCKET));
  const audit = new BusAuditTrail(bus, config.serverId, logger.child({ component: "audit" }));
  const rules = await startRules(bus, audit, deps.rulesSeedDir ?? DEFAULT_RULES_DIR, logger);
  let draining = false;
  const readiness = (): ReadinessReport => {
    const reasons: string[] = [];
    if (!bus.isHealthy()) reasons.push("bus disconnected");
    if (!apiTokens.isWatching()) reasons.push(`kv bucket ${API_TOKENS_BUCKET.name} not watched`);
    if (!fleet.isWatching()) reasons.push(`kv bucket ${AGENTS_BUCKET.name} not watched`);
    if (draining) reasons.push("draining");
    return { ready: reasons.length === 0, reasons };
  };
  const metricsRegistry = createMetricsRegistry("vigil-server");
  const metrics = createServerMetrics(metricsRegistry);
  const registry = new AgentRegistry();
  // Open before the ingress, so it sees every connect; the ingress ends superseded streams.
  let supersede: (agentId: string, reason: string) => number = () => 0;
  const fleet = await FleetRegistry.open({
    bus,
    local: registry,
    serverId: config.serverId,
    heartbeatIntervalMs: config.grpc.heartbeatIntervalMs,
    endStreams: (agentId, reason) => supersede(agentId, reason),
    logger: logger.child({ component: "fleet" }),
  });
  const controlPlane = await startControlPlane(bus, {
    serverId: config.serverId,
    seedPolicy: config.agentPolicy,
    logger,
  });
  registerAgentFleetMetrics(metricsRegistry, registry, () => controlPlane.config.fleetDefault().version);
  const enrollment = config.enrollment.enabled
    ? await EnrollmentStore.open(bus, { rateLimit: config.enrollment.rateLimit })
    : undefined;
  const health = (): HealthReport => ({
    healthy: bus.isHealthy(),
    checks: { bus: bus.isHealthy() ? "connected" : "disconnected", agents: String(registry.onlineCount()) },
  });
  const ingress = await startGrpcIngress(
    config.grpc,
    {
      settings: {
        serverId: config.serverId,
        heartbeatIntervalMs: config.grpc.heartbeatIntervalMs,
        helloTimeoutMs: config.grpc.helloTimeoutMs,
        maxBatchEvents: config.grpc.maxBatchEvents,
        maxBatchBytes: config.grpc.maxBatchBytes,
        maxPendingMessages: config.grpc.maxPendingMessagesPerStream,
        agentEventsPerSecond: config.grpc.agentEventsPerSecond,
        agentEventsBurst: config.grpc.agentEventsBurst,
      },
      publisher: new EventPublisher(bus, config.serverId),
      registry,
      metrics,
      logger: logger.child({ component: "ingress" }),
      control: controlPlane.control,
    },
    enrollment,
  );
  supersede = (agentId, reason) => ingress.supersedeAgent(agentId, reason);
  // A revocation made on any instance ends the agent's streams on this one.
  const revocations = await enrollment?.watchRevocations((agentId) => {
    const streams = ingress.disconnectAgent(agentId, "agent revoked");
    if (streams > 0) logger.warn({ agentId, streams }, "revoked agent's streams ended");
  });
  const api = await startRestApi({
    host: config.api.host,
    port: config.api.port,
    token: config.api.token,
    tls: config.api.tls,
    rateLimit: config.api.rateLimit,
    bodyLimitBytes: config.api.bodyLimitBytes,
    metricsPublic: config.api.metricsPublic,
    tokens: apiTokens,
    audit,
    bus,
    readiness,
    rules,
    serverId: config.serverId,
    alerts: deps.alertReader,
    events: deps.eventQueries,
    reports: deps.reports,
    registry,
    fleet,
    metrics: metricsRegistry,
    health,
    agentConfig: {
      store: controlPlane.config,
      lookupAgent: (agentId) => {
        const connected = controlPlane.connectedAgent(agentId);
        if (connected) return connected;
        const record = fleet.get(agentId);
        return record && { agentId, labels: record.labels, groups: record.groups };
      },
    },
    tasks: controlPlane.tasks,
    enrollment: {
      store: enrollment,
      oneTimeTokenTtlSeconds: config.enrollment.oneTimeTokenTtlSeconds,
      revokeAgent: async (agentId) => {
        const revoked = await enrollment?.revokeAgent(agentId);
        if (revoked) logger.warn({ agentId }, "agent revoked");
        return revoked;
      },
    },
    logger,
  });
  const consulRegistration = config.consul.register
    ? new ConsulRegistration({
        config: config.consul,
        serverId: config.serverId,
        grpcHost: config.grpc.host,
        grpcPort: ingress.port,
        health: () =>
          bus.isHealthy()
            ? { healthy: true, output: `event bus connected; ${ingress.connectedAgents()} agents` }
            : { healthy: false, output: "event bus (NATS) unreachable: agents should use another server" },
        logger: logger.child({ component: "consul" }),
      })
    : undefined;
  await consulRegistration?.start();
  return {
    grpcPort: ingress.port,
    apiPort: api.port,
    apiRoutes: api.routes,
    registry,
    fleet,
    enrollment,
    consulRegistration,
    audit,
    health,
    readiness,
    controlPlane,
    agentPolicy: () => controlPlane.config.fleetDefault(),
    setAgentPolicy: (next: unknown) => controlPlane.config.setFleetDefault(next),
    close: async (graceMs?: number) => {
      draining = true;
      await consulRegistration?.stop();
      await ingress.close(graceMs);
      await fleet.close();
      await api.close();
      apiTokens.close();
      revocations?.stop();
      controlPlane.close();
    },
  };
}
