// The schemas' summary and tags feed the OpenAPI document (@fastify/swagger types them).
import type {} from "@fastify/swagger";
import { AGENT_ID_PATTERN, type Logger } from "@vigil/common";
import type {
  FastifyInstance,
  RawReplyDefaultExpression,
  RawRequestDefaultExpression,
  RawServerDefault,
} from "fastify";
import { type AgentQuery, fleetStats, queryAgents } from "../registry/fleet-query";
import { type FleetAgentRecord, viewOf } from "../registry/fleet-record";

type App = FastifyInstance<RawServerDefault, RawRequestDefaultExpression, RawReplyDefaultExpression, Logger>;

export interface AgentRoutesOptions {
  /** Every agent record of the fleet registry (all servers). */
  records: () => FleetAgentRecord[];
  get: (agentId: string) => FleetAgentRecord | undefined;
}

export const MAX_AGENTS_PAGE = 1000;

const listQuery = {
  type: "object",
  additionalProperties: false,
  properties: {
    status: { type: "string", enum: ["online", "offline", "stale"] },
    hostname: { type: "string", minLength: 1, maxLength: 256 },
    label: { type: "string", minLength: 2, maxLength: 512, pattern: "^[^=]+=" },
    group: { type: "string", minLength: 1, maxLength: 64 },
    version: { type: "string", minLength: 1, maxLength: 128 },
    driverVersion: { type: "string", minLength: 1, maxLength: 128 },
    server: { type: "string", minLength: 1, maxLength: 128 },
    limit: { type: "integer", minimum: 1, maximum: MAX_AGENTS_PAGE, default: 100 },
    offset: { type: "integer", minimum: 0, maximum: 10_000_000, default: 0 },
  },
} as const;

const agentParams = {
  type: "object",
  required: ["id"],
  properties: { id: { type: "string", minLength: 1, maxLength: 64 } },
} as const;

const noQuery = { type: "object", additionalProperties: false, properties: {} } as const;

/**
 * The fleet registry (README "Fleet registry"): GET /api/v1/agents (filters
 * and paging), GET /api/v1/agents/:id, GET /api/v1/fleet/stats. Every server
 * answers for the whole fleet: it watches the shared "vigil-agents" bucket.
 */
export function registerAgentRoutes(app: App, options: AgentRoutesOptions): void {
  const tags = ["agents"];

  app.get<{ Querystring: AgentQuery }>(
    "/api/v1/agents",
    {
      config: { role: "viewer" },
      schema: {
        summary:
          "List agents (filter by status, hostname substring, label key=value, group, version, server; page with limit/offset)",
        tags,
        querystring: listQuery,
      },
    },
    async (request) => {
      const page = queryAgents(options.records(), request.query, Date.now());
      return { ...page, count: page.agents.length };
    },
  );

  app.get<{ Params: { id: string } }>(
    "/api/v1/agents/:id",
    {
      config: { role: "viewer" },
      schema: { summary: "One agent", tags, params: agentParams, querystring: noQuery },
    },
    async (request, reply) => {
      const { id } = request.params;
      const record = AGENT_ID_PATTERN.test(id) ? options.get(id) : undefined;
      if (!record) {
        return reply
          .code(404)
          .send({ error: "not_found", message: `no agent "${id.slice(0, 64)}" in the fleet registry` });
      }
      return viewOf(record, Date.now());
    },
  );

  app.get(
    "/api/v1/fleet/stats",
    {
      config: { role: "viewer" },
      schema: {
        summary: "Agents by status, agent version and driver version; fleet-wide events/s from heartbeats",
        tags,
        querystring: noQuery,
      },
    },
    async () => fleetStats(options.records(), Date.now()),
  );
}
