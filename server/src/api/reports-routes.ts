import {
  LEVEL_NAMES,
  MAX_REPORT_LIST,
  type Period,
  parseLevel,
  periodOf,
  periodStartingAt,
  type ReportLevel,
  type RunningReports,
  SCOPE_PATTERN,
} from "@vigil/hub";
import type { FastifyBaseLogger, FastifyReply } from "fastify";
import type { ApiApp } from "./api-app";

// Tiered reports: GET /api/v1/reports (list, newest period first), GET
// /api/v1/reports/:level/:scope/:start (one, with its AI analysis when there
// is one; role viewer) and POST /api/v1/reports/generate (build a period now,
// missing children first; role operator). 400 names the bad parameter, 503
// when this server has no reports.

export interface ReportRoutesOptions {
  /** The report store and on-demand generation; absent when reports are off (503). */
  reports: Pick<RunningReports, "store" | "generate"> | undefined;
  now?: () => number;
}

const LEVEL_TEXT = "1-5 or cell, block, daily, weekly, monthly";
const level = { type: "string", minLength: 1, maxLength: 16, description: LEVEL_TEXT } as const;
const scope = {
  type: "string",
  minLength: 1,
  maxLength: 300,
  description: '"fleet" or "host:<host.id>"',
} as const;
const time = (description: string) =>
  ({ type: "string", minLength: 1, maxLength: 64, format: "date-time", description }) as const;

interface ListQuery {
  level?: string;
  scope?: string;
  from?: string;
  to?: string;
  limit: number;
}

interface OneParams {
  level: string;
  scope: string;
  start: string;
}

interface GenerateBody {
  level: string | number;
  start: string;
  scope?: string;
}

class BadParameter extends Error {}

function levelOf(name: string, value: string | number): ReportLevel {
  const parsed = parseLevel(String(value));
  if (parsed === undefined)
    throw new BadParameter(`${name}: "${String(value)}" is not a level (${LEVEL_TEXT})`);
  return parsed;
}

function scopeOf(name: string, value: string): string {
  if (!SCOPE_PATTERN.test(value)) {
    throw new BadParameter(`${name}: "${value.slice(0, 80)}" is not "fleet" or "host:<host.id>"`);
  }
  return value;
}

function timeOf(name: string, value: string): number {
  const ms = Date.parse(value);
  if (!Number.isFinite(ms))
    throw new BadParameter(`${name}: "${value.slice(0, 64)}" is not an ISO 8601 time`);
  return ms;
}

/** The period of `level` starting at `start`; a time inside a period is refused, naming that period's start. */
function periodAt(levelValue: ReportLevel, start: string): Period {
  const ms = timeOf("start", start);
  const period = periodStartingAt(levelValue, ms);
  if (period) return period;
  const holding = periodOf(levelValue, ms);
  throw new BadParameter(
    `start: ${start} is not the start of a ${LEVEL_NAMES[levelValue]} period (the one holding it starts at ${new Date(holding.startMs).toISOString()})`,
  );
}

export function registerReportRoutes(app: ApiApp, options: ReportRoutesOptions): void {
  const tags = ["reports"];
  const now = options.now ?? Date.now;

  app.get<{ Querystring: ListQuery }>(
    "/api/v1/reports",
    {
      config: { role: "viewer" },
      schema: {
        tags,
        summary: "List reports, newest period first",
        querystring: {
          type: "object",
          additionalProperties: false,
          properties: {
            level,
            scope,
            from: time("periods starting at or after this time"),
            to: time("periods starting before this time"),
            limit: { type: "integer", minimum: 1, maximum: MAX_REPORT_LIST, default: 100 },
          },
        },
      },
    },
    async (request, reply) => {
      const reports = options.reports;
      if (!reports) return noReports(reply);
      const query = request.query;
      let listQuery: Parameters<typeof reports.store.list>[0];
      try {
        listQuery = {
          level: query.level === undefined ? undefined : levelOf("level", query.level),
          scope: query.scope === undefined ? undefined : scopeOf("scope", query.scope),
          fromMs: query.from === undefined ? undefined : timeOf("from", query.from),
          toMs: query.to === undefined ? undefined : timeOf("to", query.to),
          limit: query.limit,
        };
      } catch (error) {
        return badRequest(reply, error);
      }
      try {
        const listed = await reports.store.list(listQuery);
        return { count: listed.length, reports: listed };
      } catch (error) {
        return unavailable(request.log, reply, error);
      }
    },
  );

  app.get<{ Params: OneParams }>(
    "/api/v1/reports/:level/:scope/:start",
    {
      config: { role: "viewer" },
      schema: {
        tags,
        summary: "One report, with its AI analysis when there is one",
        params: {
          type: "object",
          required: ["level", "scope", "start"],
          properties: { level, scope, start: time("the period's start") },
        },
      },
    },
    async (request, reply) => {
      const reports = options.reports;
      if (!reports) return noReports(reply);
      let period: Period;
      let scopeValue: string;
      try {
        const levelValue = levelOf("level", request.params.level);
        scopeValue = scopeOf("scope", request.params.scope);
        period = periodAt(levelValue, request.params.start);
      } catch (error) {
        return badRequest(reply, error);
      }
      try {
        const report = await reports.store.get(period.level, scopeValue, period.startMs);
        if (!report) {
          return reply.code(404).send({
            error: "not_found",
            message: `no ${LEVEL_NAMES[period.level]} report of ${scopeValue} for ${period.label}`,
          });
        }
        const analysis = await reports.store.getAnalysis(period.level, scopeValue, period.startMs);
        return { report, analysis: analysis ?? null };
      } catch (error) {
        return unavailable(request.log, reply, error);
      }
    },
  );

  app.post<{ Body: GenerateBody }>(
    "/api/v1/reports/generate",
    {
      config: { role: "operator" },
      schema: {
        tags,
        summary: "Generate (or regenerate) a period's reports now, every scope; answers with one scope's",
        body: {
          type: "object",
          additionalProperties: false,
          required: ["level", "start"],
          properties: {
            level: {
              anyOf: [{ type: "integer", minimum: 1, maximum: 5 }, level],
              description: LEVEL_TEXT,
            },
            start: time("the period's start"),
            scope: { ...scope, default: "fleet" },
          },
        },
      },
    },
    async (request, reply) => {
      const reports = options.reports;
      if (!reports) return noReports(reply);
      let period: Period;
      let scopeValue: string;
      try {
        const levelValue = levelOf("level", request.body.level);
        scopeValue = scopeOf("scope", request.body.scope ?? "fleet");
        period = periodAt(levelValue, request.body.start);
        if (period.endMs > now()) {
          throw new BadParameter(
            `start: the ${LEVEL_NAMES[period.level]} period ${period.label} has not ended (it ends at ${new Date(period.endMs).toISOString()})`,
          );
        }
      } catch (error) {
        return badRequest(reply, error);
      }
      let fleet: Awaited<ReturnType<typeof reports.generate>>;
      let report: Awaited<ReturnType<typeof reports.store.get>>;
      try {
        fleet = await reports.generate(period);
        report =
          fleet === undefined || scopeValue === fleet.scope
            ? fleet
            : await reports.store.get(period.level, scopeValue, period.startMs);
      } catch (error) {
        return unavailable(request.log, reply, error);
      }
      if (fleet === undefined) {
        return reply.code(202).send({
          status: "generating",
          message: `another instance is generating ${LEVEL_NAMES[period.level]} ${period.label}: read it once it is done`,
        });
      }
      if (!report) {
        return reply.code(404).send({
          error: "not_found",
          message: `${scopeValue} has no events or alerts in ${LEVEL_NAMES[period.level]} ${period.label}`,
        });
      }
      return reply.code(200).send({ report });
    },
  );
}

function badRequest(reply: FastifyReply, error: unknown) {
  if (!(error instanceof BadParameter)) throw error;
  return reply.code(400).send({ error: "bad_request", message: error.message });
}

function unavailable(log: FastifyBaseLogger, reply: FastifyReply, error: unknown) {
  log.error({ err: error }, "report store failed");
  return reply.code(503).send({
    error: "report_store_unavailable",
    message: error instanceof Error ? error.message : "the report store did not answer",
  });
}

function noReports(reply: FastifyReply) {
  return reply.code(503).send({
    error: "no_reports",
    message:
      "this server has no reports: turn them on with the hub's reports.enabled (on by default in embedded mode)",
  });
}
