import type { Logger } from "@vigil/common";
import type {
  FastifyInstance,
  RawReplyDefaultExpression,
  RawRequestDefaultExpression,
  RawServerDefault,
} from "fastify";
import { MAX_TOKEN_TTL_SECONDS } from "../config";
import type { EnrollmentStore } from "../enrollment/enrollment-store";
import { ENROLLMENT_TOKEN_KINDS, type EnrollmentTokenKind } from "../enrollment/types";

export interface EnrollmentRoutesOptions {
  store: EnrollmentStore | undefined;
  /** Lifetime of a one-time token created without ttlSeconds. */
  oneTimeTokenTtlSeconds: number;
  /** Revokes the agent in the store and ends its open streams. */
  revokeAgent: (agentId: string) => ReturnType<EnrollmentStore["revokeAgent"]>;
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

const idParams = {
  type: "object",
  required: ["id"],
  properties: { id: { type: "string", pattern: "^[A-Za-z0-9_-]{1,64}$" } },
} as const;

/**
 * Enrollment tokens and agent revocation, under the API's bearer-token rule
 * (every route but /healthz). A token's secret is in the POST answer only.
 */
type App = FastifyInstance<RawServerDefault, RawRequestDefaultExpression, RawReplyDefaultExpression, Logger>;

export function registerEnrollmentRoutes(app: App, options: EnrollmentRoutesOptions): void {
  const { store } = options;
  const noStore = {
    error: "no_enrollment_store",
    message: "this server has no enrolment store (enrollment.storePath)",
  };

  app.post<{ Body: CreateTokenBody }>(
    "/api/v1/enrollment-tokens",
    { schema: { body: createTokenSchema } },
    async (request, reply) => {
      if (!store) return reply.code(404).send(noStore);
      const { kind, ttlSeconds, label } = request.body;
      const ttl = ttlSeconds ?? (kind === "one-time" ? options.oneTimeTokenTtlSeconds : undefined);
      const created = store.createToken({ kind, label, ttlMs: ttl === undefined ? undefined : ttl * 1000 });
      request.log.info(
        { tokenId: created.id, kind, expiresAt: created.expiresAt },
        "enrollment token created",
      );
      return reply.code(201).send(created);
    },
  );

  app.get("/api/v1/enrollment-tokens", async (_request, reply) => {
    if (!store) return reply.code(404).send(noStore);
    const tokens = store.listTokens();
    return { count: tokens.length, tokens };
  });

  app.delete<{ Params: { id: string } }>(
    "/api/v1/enrollment-tokens/:id",
    { schema: { params: idParams } },
    async (request, reply) => {
      if (!store) return reply.code(404).send(noStore);
      const token = store.revokeToken(request.params.id);
      if (!token) return reply.code(404).send({ error: "not_found", message: "no such enrollment token" });
      request.log.info({ tokenId: token.id }, "enrollment token revoked");
      return token;
    },
  );

  app.get("/api/v1/enrolled-agents", async (_request, reply) => {
    if (!store) return reply.code(404).send(noStore);
    const agents = store.listAgents();
    return { count: agents.length, agents };
  });

  app.post<{ Params: { id: string } }>(
    "/api/v1/agents/:id/revoke",
    { schema: { params: idParams } },
    async (request, reply) => {
      if (!store) return reply.code(404).send(noStore);
      const agent = options.revokeAgent(request.params.id);
      if (!agent)
        return reply.code(404).send({ error: "not_found", message: "no enrolled agent with this id" });
      return agent;
    },
  );
}
