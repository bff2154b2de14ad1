import type { AuditActor } from "../audit/types";

// Every REST route declares the least role that may call it, in its route
// options: `{ config: { role: "operator" } }`. Reads are "viewer", changes to
// rules/config/tasks are "operator", tokens/enrolment/revocation are "admin".
// The auth hook refuses a token whose role ranks below the route's.

export const API_ROLES = ["viewer", "operator", "admin"] as const;
export type ApiRole = (typeof API_ROLES)[number];

/** True when `held` may call a route that needs `needed`. */
export function roleAllows(held: ApiRole, needed: ApiRole): boolean {
  return API_ROLES.indexOf(held) >= API_ROLES.indexOf(needed);
}

declare module "fastify" {
  interface FastifyContextConfig {
    /** Least role allowed; routes without one are public (only /healthz, /readyz). */
    role?: ApiRole;
  }
  interface FastifyRequest {
    /** Who is calling (set by the auth hook); recorded in the audit trail. */
    actor: AuditActor;
  }
}
