import { timingSafeEqual } from "node:crypto";
import type { FastifyReply, FastifyRequest } from "fastify";
import type { AuditActor } from "../../audit/types";
import type { ApiApp } from "../api-app";
import { type ApiRole, roleAllows } from "../api-roles";
import type { ApiTokenStore } from "./api-token-store";

export interface AuthOptions {
  /** The configured api.token: a bootstrap admin token. Unset: the (loopback-only) API is open. */
  configToken: string | undefined;
  tokens: ApiTokenStore;
  /** Paths served without a token (exact, or a prefix when ending in "/"). */
  publicPaths: string[];
}

const CONFIG_ACTOR = { id: "config", name: "api.token", role: "admin" } as const;
/** Caller of a public route, or of any route when no api.token is configured (loopback only). */
const ANONYMOUS_ACTOR = { id: "anonymous", name: "anonymous", role: "viewer" } as const;
const OPEN_API_ACTOR = { id: "anonymous", name: "open loopback API (no api.token)", role: "admin" } as const;

function isPublic(url: string, publicPaths: string[]): boolean {
  return publicPaths.some((path) =>
    path.endsWith("/") ? url.startsWith(path) || `${url}/` === path : url === path,
  );
}

/**
 * One onRequest hook enforces every route's declared role. Routes that
 * declare none are public only when listed in publicPaths; any other route
 * without a role (a forgotten declaration) is treated as admin-only.
 */
export function installAuth(app: ApiApp, options: AuthOptions): void {
  const configToken = options.configToken ? Buffer.from(options.configToken) : undefined;

  app.addHook("onRoute", (route) => {
    if (route.config?.role || isPublic(route.url, options.publicPaths)) return;
    route.config = { ...route.config, role: "admin" };
    app.log.warn({ url: route.url, method: route.method }, "route declares no role: admin only");
  });

  const unauthorized = (reply: FastifyReply, message: string) =>
    reply.code(401).header("www-authenticate", "Bearer").send({ error: "unauthorized", message });

  app.addHook("onRequest", async (request: FastifyRequest, reply: FastifyReply) => {
    const needed: ApiRole | undefined = request.routeOptions.config?.role;
    if (!needed) {
      request.actor = { ...ANONYMOUS_ACTOR, address: request.ip };
      return;
    }
    const header = request.headers.authorization;
    if (header === undefined) {
      if (!configToken) {
        request.actor = { ...OPEN_API_ACTOR, address: request.ip };
        return;
      }
      return unauthorized(reply, "missing bearer token (authorization: Bearer <token>)");
    }
    if (!header.startsWith("Bearer ")) return unauthorized(reply, "authorization must be Bearer <token>");
    const presented = header.slice("Bearer ".length).trim();
    let actor: Omit<AuditActor, "address"> | undefined;
    const given = Buffer.from(presented);
    if (configToken && given.length === configToken.length && timingSafeEqual(given, configToken)) {
      actor = CONFIG_ACTOR;
    } else {
      actor = await options.tokens.authenticate(presented);
    }
    if (!actor) return unauthorized(reply, "unknown, revoked or expired bearer token");
    request.actor = { ...actor, address: request.ip };
    if (!roleAllows(actor.role as ApiRole, needed)) {
      return reply.code(403).send({
        error: "forbidden",
        message: `${request.method} ${request.routeOptions.url} needs the ${needed} role; token ${actor.id} has ${actor.role}`,
      });
    }
  });
}
