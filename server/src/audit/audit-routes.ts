import { AUDIT_ACTION_PATTERN, type Bus } from "@vigil/common";
import type { ApiApp } from "../api/api-app";
import { type AuditQuery, queryAudit } from "./audit-query";

export const MAX_AUDIT_PAGE = 1000;

const auditQuerySchema = {
  type: "object",
  additionalProperties: false,
  properties: {
    since: { type: "string", format: "date-time", description: "records at or after this time" },
    until: { type: "string", format: "date-time", description: "records before this time" },
    actor: {
      type: "string",
      maxLength: 128,
      description: "actor id: an API token id, config, anonymous, system",
    },
    action: {
      type: "string",
      pattern: AUDIT_ACTION_PATTERN.source,
      description: "action or action prefix: token matches token.create and token.revoke",
    },
    target: {
      type: "string",
      maxLength: 256,
      description: 'exact target, or a prefix ending in "/" (rule/)',
    },
    limit: { type: "integer", minimum: 1, maximum: MAX_AUDIT_PAGE, default: 100 },
    cursor: { type: "integer", minimum: 0, description: "nextCursor of the previous page" },
  },
} as const;

/**
 * GET /api/v1/audit: who changed what, oldest first, from the VIGIL_AUDIT
 * stream. Operator and above: the trail shows token names, targets and the
 * before/after of every change, more than a viewer needs.
 */
export function registerAuditRoutes(app: ApiApp, bus: Bus): void {
  app.get<{ Querystring: AuditQuery }>(
    "/api/v1/audit",
    {
      config: { role: "operator" },
      schema: { tags: ["audit"], summary: "Query the audit trail", querystring: auditQuerySchema },
    },
    async (request) => {
      const page = await queryAudit(bus, request.query);
      return { count: page.records.length, records: page.records, nextCursor: page.nextCursor };
    },
  );
}
