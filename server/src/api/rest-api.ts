import { readFileSync } from "node:fs";
import {
  type AlertReader,
  type Bus,
  ErrorCodes,
  type EventQueries,
  type HealthReport,
  type Logger,
  type Registry,
  VigilError,
} from "@vigil/common";
import Fastify, { LogController } from "fastify";
import { registerAuditRoutes } from "../audit/audit-routes";
import type { AuditActor, AuditTrail } from "../audit/types";
import type { AgentRegistry } from "../registry/agent-registry";
import type { FleetRegistry } from "../registry/fleet-registry";
import type { RuleService } from "../rules/rule-service";
import type { FleetTasks } from "../tasks/fleet-tasks";
import { type AgentConfigRoutesOptions, registerAgentConfigRoutes } from "./agent-config-routes";
import { registerAgentRoutes } from "./agent-routes";
import { registerAlertRoutes } from "./alert-routes";
import type { ApiApp } from "./api-app";
import { DOCS_PREFIX, OPENAPI_PATH, registerApiDocs } from "./api-docs";
import { installErrorHandlers } from "./api-errors";
import { type ApiRateLimit, registerRateLimit } from "./api-rate-limit";
import "./api-roles";
import type { ApiTokenStore } from "./auth/api-token-store";
import { installAuth } from "./auth/auth-hook";
import { registerTokenRoutes } from "./auth/token-routes";
import { type EnrollmentRoutesOptions, registerEnrollmentRoutes } from "./enrollment-routes";
import { registerEventRoutes } from "./events-routes";
import { type ReportRoutesOptions, registerReportRoutes } from "./reports-routes";
import { registerRuleRoutes } from "./rule-routes";
import { registerStatusRoutes } from "./status-routes";
import { registerTaskRoutes } from "./task-routes";

export interface ReadinessReport {
  ready: boolean;
  /** Why not ready, e.g. "bus disconnected", "draining". */
  reasons: string[];
}

export interface RestApiOptions {
  host: string;
  port: number;
  /** Bootstrap admin token (api.token); unset, the loopback-only API is open. */
  token: string | undefined;
  /** HTTPS with these PEM files (api.tls). */
  tls?: { certFile: string; keyFile: string };
  rateLimit: ApiRateLimit;
  bodyLimitBytes: number;
  /** /metrics without a token (api.metricsPublic). */
  metricsPublic: boolean;
  tokens: ApiTokenStore;
  audit: AuditTrail;
  /** Where GET /api/v1/audit reads the trail. */
  bus: Bus;
  alerts: AlertReader | undefined;
  /** Where GET /api/v1/events, /process-tree and /alerts/:id/context read stored events. */
  events?: EventQueries;
  /** Serves /api/v1/reports (503 there when absent: reports are off). */
  reports?: ReportRoutesOptions["reports"];
  registry: AgentRegistry;
  /** The fleet registry (all servers' agents): GET /api/v1/agents, /api/v1/agents/:id, /api/v1/fleet/stats. */
  fleet: FleetRegistry;
  metrics: Registry;
  health: () => HealthReport;
  readiness: () => ReadinessReport;
  /** Serves /api/v1/agent-config, /api/v1/agents/:id/effective-config and /api/v1/agent-policy when present. */
  agentConfig?: Omit<AgentConfigRoutesOptions, "audit">;
  /** Serves /api/v1/tasks and POST /api/v1/agents/:id/tasks when present. */
  tasks?: FleetTasks;
  /** Enrollment tokens and agent revocation (404 on those routes when the server has no store). */
  enrollment?: EnrollmentRoutesOptions;
  /** Serves /api/v1/rules and /api/v1/rulesets when present. */
  rules?: RuleService;
  /** Named in GET /api/v1/status. */
  serverId?: string;
  logger: Logger;
}

export interface RestApi {
  readonly port: number;
  /** "METHOD /path" of every route registered (HEAD and OPTIONS aside). */
  readonly routes: readonly string[];
  close(): Promise<void>;
}

const noQuery = { type: "object", additionalProperties: false, properties: {} } as const;

function readPem(key: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    throw new VigilError(
      ErrorCodes.CONFIG_FILE,
      `${key}: cannot read ${path} (${(error as Error).message})`,
      {
        cause: error,
      },
    );
  }
}

/**
 * Operator/analyst REST API (README "Operator API"): token auth with roles,
 * HTTPS, rate limits, schema-checked input, OpenAPI docs, audit trail.
 */
export async function startRestApi(options: RestApiOptions): Promise<RestApi> {
  const https = options.tls
    ? {
        cert: readPem("api.tls.certFile", options.tls.certFile),
        key: readPem("api.tls.keyFile", options.tls.keyFile),
      }
    : null;
  const app = Fastify({
    loggerInstance: options.logger.child({ component: "api" }),
    https,
    bodyLimit: options.bodyLimitBytes,
    // Reject unknown fields with a 400 naming them instead of silently dropping them.
    ajv: { customOptions: { removeAdditional: false } },
    // One line per request would drown the log when `vigil alerts -f` polls.
    logController: new LogController({ disableRequestLogging: true }),
  }) as unknown as ApiApp;
  app.decorateRequest("actor", null as unknown as AuditActor);
  const routes: string[] = [];
  app.addHook("onRoute", (route) => {
    for (const method of [route.method].flat()) {
      if (method !== "HEAD" && method !== "OPTIONS") routes.push(`${method} ${route.url}`);
    }
  });
  installErrorHandlers(app);
  const publicPaths = ["/healthz", "/readyz", OPENAPI_PATH, `${DOCS_PREFIX}/`];
  if (options.metricsPublic) publicPaths.push("/metrics");
  installAuth(app, { configToken: options.token, tokens: options.tokens, publicPaths });
  await registerApiDocs(app, "1");
  await registerRateLimit(app, options.rateLimit);

  // Probes are exempt from the rate limit: Consul and Kubernetes poll them.
  app.get(
    "/healthz",
    {
      config: { rateLimit: false },
      schema: { summary: "Liveness: the process is up", querystring: noQuery },
    },
    async (_request, reply) => {
      const report = options.health();
      return reply.code(report.healthy ? 200 : 503).send(report);
    },
  );

  app.get(
    "/readyz",
    {
      config: { rateLimit: false },
      schema: {
        summary: "Readiness: bus connected, KV buckets open, not draining (503 with the reasons otherwise)",
        querystring: noQuery,
      },
    },
    async (_request, reply) => {
      const report = options.readiness();
      return reply.code(report.ready ? 200 : 503).send(report);
    },
  );

  app.get(
    "/metrics",
    {
      config: { rateLimit: false, ...(options.metricsPublic ? {} : { role: "viewer" as const }) },
      schema: { summary: "Prometheus metrics", querystring: noQuery },
    },
    async (_request, reply) => {
      const text = await options.metrics.metrics();
      return reply.type(options.metrics.contentType).send(text);
    },
  );

  registerAlertRoutes(app, { reader: options.alerts });
  registerEventRoutes(app, { queries: options.events, alerts: options.alerts });
  registerReportRoutes(app, { reports: options.reports });

  registerAgentRoutes(app, { records: () => options.fleet.records(), get: (id) => options.fleet.get(id) });

  registerTokenRoutes(app, options.tokens, options.audit);
  registerAuditRoutes(app, options.bus);

  if (options.enrollment) registerEnrollmentRoutes(app, { ...options.enrollment, audit: options.audit });

  if (options.agentConfig) registerAgentConfigRoutes(app, { ...options.agentConfig, audit: options.audit });

  if (options.tasks) registerTaskRoutes(app, { tasks: options.tasks, audit: options.audit });

  if (options.rules) registerRuleRoutes(app, { rules: options.rules });

  registerStatusRoutes(app, {
    serverId: options.serverId ?? "unnamed",
    health: options.health,
    readiness: options.readiness,
    records: () => options.fleet.records(),
    bus: options.bus,
    rules: options.rules,
    alerts: options.alerts,
  });

  await app.listen({ host: options.host, port: options.port });
  const address = app.server.address();
  const port = typeof address === "object" && address ? address.port : options.port;
  options.logger.info({ host: options.host, port, tls: Boolean(https) }, "REST API listening");
  return { port, routes, close: () => app.close() };
}
