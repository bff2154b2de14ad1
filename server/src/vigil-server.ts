import {
  type AlertReader,
  type Bus,
  createMetricsRegistry,
  defaultStreams,
  type HealthReport,
  type Logger,
} from "@vigil/common";
import { startRestApi } from "./api/rest-api";
import type { ServerConfig } from "./config";
import { startGrpcIngress } from "./ingress/grpc-ingress";
import { EventPublisher } from "./publish/event-publisher";
import { AgentRegistry } from "./registry/agent-registry";
import { createServerMetrics } from "./server-metrics";

export interface VigilServerDependencies {
  config: ServerConfig;
  bus: Bus;
  logger: Logger;
  /** Serves GET /api/v1/alerts when present. */
  alertReader?: AlertReader;
}

export interface VigilServer {
  readonly grpcPort: number;
  readonly apiPort: number;
  readonly registry: AgentRegistry;
  health(): HealthReport;
  /** Stops accepting; open agent streams get graceMs to finish (0 = cut now). */
  close(graceMs?: number): Promise<void>;
}

/** Composes the server tier: gRPC ingress → normalize → bus, plus the REST API. */
export async function startVigilServer(deps: VigilServerDependencies): Promise<VigilServer> {
  const { config, bus, logger } = deps;
  await bus.ensureStreams(defaultStreams());
  const metricsRegistry = createMetricsRegistry("vigil-server");
  const metrics = createServerMetrics(metricsRegistry);
  const registry = new AgentRegistry();
  const health = (): HealthReport => ({
    healthy: bus.isHealthy(),
    checks: { bus: bus.isHealthy() ? "connected" : "disconnected", agents: String(registry.onlineCount()) },
  });
  const ingress = await startGrpcIngress(config.grpc, {
    settings: {
      serverId: config.serverId,
      heartbeatIntervalMs: config.grpc.heartbeatIntervalMs,
      helloTimeoutMs: config.grpc.helloTimeoutMs,
      maxBatchEvents: config.grpc.maxBatchEvents,
      maxBatchBytes: config.grpc.maxBatchBytes,
    },
    publisher: new EventPublisher(bus, config.serverId),
    registry,
    metrics,
    logger: logger.child({ component: "ingress" }),
  });
  const api = await startRestApi({
    host: config.api.host,
    port: config.api.port,
    token: config.api.token,
    alerts: deps.alertReader,
    registry,
    metrics: metricsRegistry,
    health,
    logger,
  });
  return {
    grpcPort: ingress.port,
    apiPort: api.port,
    registry,
    health,
    close: async (graceMs?: number) => {
      await ingress.close(graceMs);
      await api.close();
    },
  };
}
