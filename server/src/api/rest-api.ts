import { timingSafeEqual } from "node:crypto";
import type { AlertReader, HealthReport, Logger, Registry } from "@vigil/common";
import Fastify, { LogController } from "fastify";
import type { AuditActor } from "../audit/types";
import type { AgentPolicyVersion } from "../policy/agent-policy-source";
import type { AgentRegistry } from "../registry/agent-registry";
import type { FleetRegistry } from "../registry/fleet-registry";
import type { TaskStore } from "../tasks/task-store";
import { registerAgentRoutes } from "./agent-routes";
import { registerAlertRoutes } from "./alert-routes";
import "./api-roles";
import { type EnrollmentRoutesOptions, registerEnrollmentRoutes } from "./enrollment-routes";
import { registerTaskRoutes } from "./task-routes";

export interface RestApiOptions {
  host: string;
  port: number;
  token: string | undefined;
  alerts: AlertReader | undefined;
  registry: AgentRegistry;
  /** The fleet registry (all servers' agents): GET /api/v1/agents, /api/v1/agents/:id, /api/v1/fleet/stats. */
  fleet: FleetRegistry;
  metrics: Registry;
  health: () => HealthReport;
  /** Serves GET /api/v1/agent-policy when present. */
  agentPolicy?: () => AgentPolicyVersion;
  /** Serves POST /api/v1/agents/:id/tasks and GET /api/v1/tasks/:taskId when present. */
  tasks?: { store: TaskStore; deliver: (agentId: string) => number };
  /** Enrollment tokens and agent revocation (404 on those routes when the server has no store). */
  enrollment?: EnrollmentRoutesOptions;
  logger: Logger;
}

export interface RestApi {
  readonly port: number;
  close(): Promise<void>;
}

/** The single configured api.token acts as an admin. */
const CONFIG_TOKEN_ACTOR = { id: "config", name: "api.token", role: "admin" } as const;

/** Operator/analyst REST API. Everything but /healthz needs the bearer token when one is set. */
export async function startRestApi(options: RestApiOptions): Promise<RestApi> {
  const app = Fastify({
    loggerInstance: options.logger.child({ component: "api" }),
    bodyLimit: 1024 * 1024,
    // One line per request would drown the log when `vigil alerts -f` polls.
    logController: new LogController({ disableRequestLogging: true }),
  });
  const expected = options.token ? Buffer.from(`Bearer ${options.token}`) : undefined;
  app.decorateRequest("actor", null as unknown as AuditActor);
  app.addHook("onRequest", async (request, reply) => {
    request.actor = { ...CONFIG_TOKEN_ACTOR, address: request.ip };
    if (!expected || request.url === "/healthz") return;
    const given = Buffer.from(request.headers.authorization ?? "");
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      return reply.code(401).send({ error: "unauthorized", message: "missing or invalid bearer token" });
    }
  });

  app.get("/healthz", async (_request, reply) => {
    const report = options.health();
    return reply.code(report.healthy ? 200 : 503).send(report);
  });

  app.get("/metrics", async (_request, reply) => {
    const text = await options.metrics.metrics();
    return reply.type(options.metrics.contentType).send(text);
  });

  registerAlertRoutes(app, { reader: options.alerts });

  registerAgentRoutes(app, { records: () => options.fleet.records(), get: (id) => options.fleet.get(id) });

  app.get("/api/v1/agent-policy", async (_request, reply) => {
    if (!options.agentPolicy) {
      return reply
        .code(404)
        .send({ error: "no_agent_policy", message: "this server pushes no agent policy" });
    }
    const { version, policy, settings } = options.agentPolicy();
    return { version, policy, settings };
  });

  if (options.enrollment) registerEnrollmentRoutes(app, options.enrollment);

  if (options.tasks) registerTaskRoutes(app, { ...options.tasks, registry: options.registry });

  await app.listen({ host: options.host, port: options.port });
  const address = app.server.address();
  const port = typeof address === "object" && address ? address.port : options.port;
  options.logger.info({ host: options.host, port }, "REST API listening");
  return { port, close: () => app.close() };
}
