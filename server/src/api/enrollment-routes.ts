import type { AuditTrail } from "../audit/types";
import { MAX_TOKEN_TTL_SECONDS } from "../config";
import type { EnrollmentStore } from "../enrollment/enrollment-store";
import { ENROLLMENT_TOKEN_KINDS, type EnrollmentTokenKind } from "../enrollment/types";
import type { ApiApp } from "./api-app";

export interface EnrollmentRoutesOptions {
  store: EnrollmentStore | undefined;
  /** Lifetime of a one-time token created without ttlSeconds. */
  oneTimeTokenTtlSeconds: number;
  /** Revokes the agent in the shared store (every instance then ends its streams). */
  revokeAgent: (agentId: string) => ReturnType<EnrollmentStore["revokeAgent"]>;
  /** Token creation/revocation and agent revocation are recorded here. */
  audit?: AuditTrail;
}

interface CreateTokenBody {
  kind: EnrollmentTokenKind;
  ttlSeconds?: number;
  label?: string;
}

const createTokenSchema = {
  type: "object",
  additionalProperties: false,
  required: ["kind"],
  properties: {
    kind: { type: "string", enum: [...ENROLLMENT_TOKEN_KINDS] },
    ttlSeconds: { type: "integer", minimum: 1, maximum: MAX_TOKEN_TTL_SECONDS },
    label: { type: "string", maxLength: 200 },
  },
} as const;

/** Largest page of GET /api/v1/enrolled-agents (as GET /api/v1/agents). */
export const MAX_ENROLLED_AGENTS_PAGE = 1000;

const enrolledAgentsQuery = {
  type: "object",
  additionalProperties: false,
  properties: {
    limit: { type: "integer", minimum: 1, maximum: MAX_ENROLLED_AGENTS_PAGE, default: 100 },
    offset: { type: "integer", minimum: 0, maximum: 10_000_000, default: 0 },
  },
} as const;

const idParams = {
  type: "object",
  required: ["id"],
  properties: { id: { type: "string", pattern: "^[A-Za-z0-9_-]{1,64}$" } },
} as const;

/**
 * Enrollment tokens and agent revocation (admin only; every change audited).
 * A token's secret is in the POST answer only.
 */
export function registerEnrollmentRoutes(app: ApiApp, options: EnrollmentRoutesOptions): void {
  const { store } = options;
  const noStore = {
    error: "no_enrollment_store",
    message: "this server does not enrol agents (enrollment.enabled is off)",
  };

  app.post<{ Body: CreateTokenBody }>(
    "/api/v1/enrollment-tokens",
    { config: { role: "admin" }, schema: { tags: ["enrollment"], body: createTokenSchema } },
    async (request, reply) => {
      if (!store) return reply.code(404).send(noStore);
      const { kind, ttlSeconds, label } = request.body;
      const ttl = ttlSeconds ?? (kind === "one-time" ? options.oneTimeTokenTtlSeconds : undefined);
      const created = await store.createToken({
        kind,
        label,
        ttlMs: ttl === undefined ? undefined : ttl * 1000,
      });
      request.log.info(
        { tokenId: created.id, kind, expiresAt: created.expiresAt },
        "enrollment token created",
      );
      const { token: _secret, ...after } = created;
      await options.audit?.record({
        actor: request.actor,
        action: "enrollment-token.create",
        target: `enrollment-token/${created.id}`,
        after,
      });
      return reply.code(201).send(created);
    },
  );

  app.get("/api/v1/enrollment-tokens", { config: { role: "admin" } }, async (_request, reply) => {
    if (!store) return reply.code(404).send(noStore);
    const tokens = await store.listTokens();
    return { count: tokens.length, tokens };
  });

  app.delete<{ Params: { id: string } }>(
    "/api/v1/enrollment-tokens/:id",
    { config: { role: "admin" }, schema: { tags: ["enrollment"], params: idParams } },
    async (request, reply) => {
      if (!store) return reply.code(404).send(noStore);
      const token = await store.revokeToken(request.params.id);
      if (!token) return reply.code(404).send({ error: "not_found", message: "no such enrollment token" });
      request.log.info({ tokenId: token.id }, "enrollment token revoked");
      await options.audit?.record({
        actor: request.actor,
        action: "enrollment-token.revoke",
        target: `enrollment-token/${token.id}`,
        after: token,
      });
      return token;
    },
  );

  app.get<{ Querystring: { limit: number; offset: number } }>(
    "/api/v1/enrolled-agents",
    {
      config: { role: "admin" },
      schema: {
        summary: "Enrolled agents, oldest enrolment first (page with limit/offset)",
        tags: ["enrollment"],
        querystring: enrolledAgentsQuery,
      },
    },
    async (request, reply) => {
      if (!store) return reply.code(404).send(noStore);
      const { limit, offset } = request.query;
      const all = await store.listAgents();
      const agents = all.slice(offset, offset + limit);
      return { total: all.length, offset, limit, count: agents.length, agents };
    },
  );

  app.post<{ Params: { id: string } }>(
    "/api/v1/agents/:id/revoke",
    { config: { role: "admin" }, schema: { tags: ["agents"], params: idParams } },
    async (request, reply) => {
      if (!store) return reply.code(404).send(noStore);
      const agent = await options.revokeAgent(request.params.id);
      if (!agent)
        return reply.code(404).send({ error: "not_found", message: "no enrolled agent with this id" });
      await options.audit?.record({
        actor: request.actor,
        action: "agent.revoke",
        target: `agent/${request.params.id}`,
        after: agent,
      });
      return agent;
    },
  );
}
