import type { AuditTrail } from "../../audit/types";
import type { ApiApp } from "../api-app";
import { API_ROLES, type ApiRole } from "../api-roles";
import { API_TOKEN_ID_PATTERN } from "./api-token-format";
import type { ApiTokenStore } from "./api-token-store";

/** Longest lifetime an API token may be given (two years); omit ttlSeconds for no expiry. */
export const MAX_API_TOKEN_TTL_SECONDS = 2 * 366 * 24 * 3600;

const createBody = {
  type: "object",
  additionalProperties: false,
  required: ["name", "role"],
  properties: {
    name: { type: "string", minLength: 1, maxLength: 100, pattern: "^[\\x20-\\x7e]+$" },
    role: { type: "string", enum: [...API_ROLES] },
    ttlSeconds: { type: "integer", minimum: 60, maximum: MAX_API_TOKEN_TTL_SECONDS },
  },
} as const;

const idParams = {
  type: "object",
  additionalProperties: false,
  required: ["id"],
  properties: { id: { type: "string", pattern: API_TOKEN_ID_PATTERN.source } },
} as const;

/**
 * API tokens (admin only): POST creates one and answers its secret once,
 * GET lists them without secrets, DELETE revokes one on every server
 * instance. Creation and revocation are audited.
 */
export function registerTokenRoutes(app: ApiApp, tokens: ApiTokenStore, audit: AuditTrail): void {
  app.post<{ Body: { name: string; role: ApiRole; ttlSeconds?: number } }>(
    "/api/v1/tokens",
    {
      config: { role: "admin" },
      schema: {
        tags: ["tokens"],
        summary: "Create an API token (the token is in this answer only)",
        body: createBody,
      },
    },
    async (request, reply) => {
      const created = await tokens.create({ ...request.body, createdBy: request.actor });
      const { token: _secret, ...after } = created;
      await audit.record({
        actor: request.actor,
        action: "token.create",
        target: `token/${created.id}`,
        after,
      });
      return reply.code(201).send(created);
    },
  );

  app.get(
    "/api/v1/tokens",
    { config: { role: "admin" }, schema: { tags: ["tokens"], summary: "List API tokens (no secrets)" } },
    async () => {
      const list = tokens.list();
      return { count: list.length, tokens: list };
    },
  );

  app.delete<{ Params: { id: string } }>(
    "/api/v1/tokens/:id",
    {
      config: { role: "admin" },
      schema: { tags: ["tokens"], summary: "Revoke an API token on every server", params: idParams },
    },
    async (request, reply) => {
      const revoked = await tokens.revoke(request.params.id, request.actor);
      if (!revoked) return reply.code(404).send({ error: "not_found", message: "no API token with this id" });
      if (revoked.before.revokedAt === undefined) {
        await audit.record({
          actor: request.actor,
          action: "token.revoke",
          target: `token/${request.params.id}`,
          before: revoked.before,
          after: revoked.after,
        });
      }
      return revoked.after;
    },
  );
}
