import {
  type AlertReader,
  type Bus,
  type ConsumerState,
  EVENTS_STREAM,
  type HealthReport,
  HUB_DURABLE,
  type Logger,
} from "@vigil/common";
import type {
  FastifyInstance,
  RawReplyDefaultExpression,
  RawRequestDefaultExpression,
  RawServerDefault,
} from "fastify";
import { fleetStats } from "../registry/fleet-query";
import type { FleetAgentRecord } from "../registry/fleet-record";
import type { RuleService } from "../rules/rule-service";

// GET /api/v1/status: the fleet's health on one page, for `vigil status`:
// this server's health and readiness, the servers holding agent streams, the
// agents by status, the bus and the hubs' shared consumer backlog, the
// current ruleset and the alert rate. Each part that cannot be read says why
// instead of failing the whole answer.

type App = FastifyInstance<RawServerDefault, RawRequestDefaultExpression, RawReplyDefaultExpression, Logger>;

export interface StatusRoutesOptions {
  serverId: string;
  health: () => HealthReport;
  readiness: () => { ready: boolean; reasons: string[] };
  records: () => FleetAgentRecord[];
  bus: Bus;
  rules?: RuleService;
  alerts?: AlertReader;
}

/** A part of the answer that could not be read. */
interface Unavailable {
  error: string;
}

const noQuery = { type: "object", additionalProperties: false, properties: {} } as const;

async function part<T>(read: () => Promise<T>, log: Logger, what: string): Promise<T | Unavailable> {
  try {
    return await read();
  } catch (error) {
    log.warn({ err: error }, `status: ${what} unavailable`);
    return { error: error instanceof Error ? error.message : String(error) };
  }
}

export function registerStatusRoutes(app: App, options: StatusRoutesOptions): void {
  app.get(
    "/api/v1/status",
    {
      config: { role: "viewer" },
      schema: {
        summary:
          "Fleet health: this server, servers holding agents, agents by status, bus and hub backlog, ruleset version, alert rate",
        tags: ["status"],
        querystring: noQuery,
      },
    },
    async (request) => {
      const nowMs = Date.now();
      const stats = fleetStats(options.records(), nowMs);
      const health = options.health();
      const readiness = options.readiness();
      const { bus, rules, alerts } = options;
      const hubs = await part<(ConsumerState & { durable: string }) | { inProcess: true } | null>(
        async () => {
          if (!bus.consumerState) return { inProcess: true };
          const state = await bus.consumerState(EVENTS_STREAM, HUB_DURABLE);
          return state ? { durable: HUB_DURABLE, ...state } : null;
        },
        request.log,
        "hub consumer",
      );
      const ruleset = rules
        ? await part(
            async () => {
              const current = await rules.current();
              return {
                version: current.version,
                rules: current.rules.length,
                enabled: current.rules.filter((rule) => rule.enabled).length,
                changedAt: current.change.time,
              };
            },
            request.log,
            "ruleset",
          )
        : null;
      const alertRate = alerts
        ? await part(
            async () => {
              const count = async (ms: number) => {
                const page = await alerts.search({ size: 1, sinceUs: (nowMs - ms) * 1000 });
                return page.total;
              };
              const [lastMinute, lastHour] = await Promise.all([count(60_000), count(3_600_000)]);
              return { lastMinute, lastHour };
            },
            request.log,
            "alert store",
          )
        : null;
      return {
        time: new Date(nowMs).toISOString(),
        server: {
          id: options.serverId,
          healthy: health.healthy,
          checks: health.checks,
          ready: readiness.ready,
          reasons: readiness.reasons,
        },
        servers: Object.entries(stats.onlineByServer)
          .map(([id, agents]) => ({ id, agents }))
          .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)),
        agents: { total: stats.total, ...stats.byStatus, eventsPerSecond: stats.eventsPerSecond },
        bus: { kind: bus.kind, connected: bus.isHealthy() },
        hubs,
        rules: ruleset,
        alerts: alertRate,
      };
    },
  );
}
