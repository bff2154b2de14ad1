import {
  ALERT_LEVELS,
  type AlertLevel,
  type AlertReader,
  decodeAlertCursor,
  isVigilError,
  type Logger,
  MAX_ALERT_PAGE_SIZE,
  MAX_ALERT_TEXT_LENGTH,
} from "@vigil/common";
import type {
  FastifyInstance,
  RawReplyDefaultExpression,
  RawRequestDefaultExpression,
  RawServerDefault,
} from "fastify";

export interface AlertRoutesOptions {
  /** The SQLite store (embedded) or the Elasticsearch reader (distributed); 503 when absent. */
  reader: AlertReader | undefined;
}

interface AlertsQuery {
  limit: number;
  since?: string;
  until?: string;
  level?: AlertLevel;
  levels?: AlertLevel[];
  rule?: string;
  host?: string;
  q?: string;
  cursor?: string;
}

const alertsQuerySchema = {
  type: "object",
  additionalProperties: false,
  properties: {
    limit: { type: "integer", minimum: 1, maximum: MAX_ALERT_PAGE_SIZE, default: 100 },
    since: { type: "string", format: "date-time", description: "alerts at or after this time" },
    until: { type: "string", format: "date-time", description: "alerts before this time" },
    level: { type: "string", enum: [...ALERT_LEVELS], description: "this level and above" },
    levels: {
      type: "array",
      items: { type: "string", enum: [...ALERT_LEVELS] },
      maxItems: ALERT_LEVELS.length,
      description: "only these levels (repeat the parameter)",
    },
    rule: { type: "string", minLength: 1, maxLength: 200, description: "rule id" },
    host: { type: "string", minLength: 1, maxLength: 255, description: "host.name" },
    q: {
      type: "string",
      minLength: 1,
      maxLength: MAX_ALERT_TEXT_LENGTH,
      description: "case-insensitive text in the rule name, message, process command line or host name",
    },
    cursor: { type: "string", minLength: 1, maxLength: 512, description: "nextCursor of the previous page" },
  },
} as const;

type App = FastifyInstance<RawServerDefault, RawRequestDefaultExpression, RawReplyDefaultExpression, Logger>;

/**
 * GET /api/v1/alerts: analysts' alert search, newest first, one page at a
 * time (keyset cursor), with the total count of matches.
 */
export function registerAlertRoutes(app: App, options: AlertRoutesOptions): void {
  app.get<{ Querystring: AlertsQuery }>(
    "/api/v1/alerts",
    { config: { role: "viewer" }, schema: { querystring: alertsQuerySchema } },
    async (request, reply) => {
      if (!options.reader) {
        return reply.code(503).send({
          error: "no_alert_store",
          message:
            "this server has no alert store: set alertStorePath (SQLite) or alerts.elasticsearch (the vigil-alerts data stream)",
        });
      }
      const { limit, since, until, level, levels, rule, host, q, cursor } = request.query;
      const sinceMs = since === undefined ? undefined : Date.parse(since);
      const untilMs = until === undefined ? undefined : Date.parse(until);
      if (sinceMs !== undefined && untilMs !== undefined && untilMs <= sinceMs) {
        return reply.code(400).send({ error: "bad_request", message: "until: must be later than since" });
      }
      if (cursor !== undefined) {
        try {
          decodeAlertCursor(cursor);
        } catch (error) {
          return reply.code(400).send({ error: "bad_request", message: (error as Error).message });
        }
      }
      try {
        const page = await options.reader.search({
          size: limit,
          sinceUs: sinceMs === undefined ? undefined : sinceMs * 1000,
          untilUs: untilMs === undefined ? undefined : untilMs * 1000,
          minLevel: level,
          levels,
          ruleId: rule,
          hostName: host,
          text: q,
          cursor,
        });
        return { count: page.alerts.length, ...page };
      } catch (error) {
        request.log.error({ err: error }, "alert search failed");
        return reply.code(503).send({
          error: "alert_store_unavailable",
          message: isVigilError(error) ? error.message : "the alert store did not answer",
        });
      }
    },
  );
}
