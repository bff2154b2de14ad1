import {
  type AlertReader,
  alertContext,
  checkEventSearch,
  checkTreeQuery,
  decodeEventCursor,
  type EventQueries,
  type EventSearch,
  type Logger,
  MAX_CONTEXT_MINUTES,
  MAX_EVENT_PAGE_SIZE,
  MAX_EVENT_TEXT_LENGTH,
  MAX_EVENTS_PER_PROCESS,
  MAX_TREE_PROCESSES,
  ProcessNotFoundError,
  type ProcessTreeQuery,
} from "@vigil/common";
import type {
  FastifyInstance,
  FastifyReply,
  RawReplyDefaultExpression,
  RawRequestDefaultExpression,
  RawServerDefault,
} from "fastify";

// Investigation: GET /api/v1/events (search a host's events), GET
// /api/v1/process-tree (a process's ancestry and descendants with their
// events) and GET /api/v1/alerts/:id/context (±N minutes around an alert's
// process). Role viewer; a bad parameter is a 400 naming it.

export interface EventRoutesOptions {
  /** The SQLite event store (embedded) or Elasticsearch (distributed); 503 when absent. */
  queries: EventQueries | undefined;
  alerts: AlertReader | undefined;
}

type App = FastifyInstance<RawServerDefault, RawRequestDefaultExpression, RawReplyDefaultExpression, Logger>;

const text = (description: string) =>
  ({ type: "string", minLength: 1, maxLength: MAX_EVENT_TEXT_LENGTH, description }) as const;
const names = (description: string) =>
  ({
    type: "array",
    items: { type: "string", minLength: 1, maxLength: 64 },
    maxItems: 32,
    description,
  }) as const;
const time = (description: string) => ({ type: "string", format: "date-time", description }) as const;
const eventsPerProcess = {
  type: "integer",
  minimum: 0,
  maximum: MAX_EVENTS_PER_PROCESS,
  default: 100,
} as const;
const maxProcesses = { type: "integer", minimum: 1, maximum: MAX_TREE_PROCESSES, default: 200 } as const;

interface EventsQuery {
  limit: number;
  host?: string;
  hostId?: string;
  from?: string;
  to?: string;
  category?: string[];
  action?: string[];
  executable?: string;
  entityId?: string;
  pid?: number;
  user?: string;
  dstIp?: string;
  dstPort?: number;
  path?: string;
  q?: string;
  order?: "asc" | "desc";
  cursor?: string;
}

const eventsQuerySchema = {
  type: "object",
  additionalProperties: false,
  properties: {
    limit: { type: "integer", minimum: 1, maximum: MAX_EVENT_PAGE_SIZE, default: 100 },
    host: text("host.name"),
    hostId: text("host.id"),
    from: time("events at or after this time"),
    to: time("events before this time"),
    category: names("event.category, any of (repeat the parameter)"),
    action: names("event.action, any of (repeat the parameter): exec, connect, open-write, ..."),
    executable: text("process.executable"),
    entityId: text("process.entity_id"),
    pid: { type: "integer", minimum: 1 },
    user: text("user.name"),
    dstIp: text("destination.ip"),
    dstPort: { type: "integer", minimum: 0, maximum: 65535 },
    path: text("file.path starts with this"),
    q: text("case-insensitive text in the command line, file path or executable"),
    order: { type: "string", enum: ["asc", "desc"], default: "desc" },
    cursor: { type: "string", minLength: 1, maxLength: 512, description: "nextCursor of the previous page" },
  },
} as const;

interface TreeQuery {
  hostId: string;
  entityId?: string;
  pid?: number;
  at?: string;
  from?: string;
  to?: string;
  eventsPerProcess: number;
  maxProcesses: number;
}

const treeQuerySchema = {
  type: "object",
  additionalProperties: false,
  required: ["hostId"],
  properties: {
    hostId: text("host.id"),
    entityId: text("process.entity_id of the process"),
    pid: { type: "integer", minimum: 1, description: "or its pid, resolved at `at`" },
    at: time("the moment the pid is resolved at (default now)"),
    from: time("events of each process at or after this time"),
    to: time("events of each process before this time"),
    eventsPerProcess,
    maxProcesses,
  },
} as const;

interface ContextQuery {
  minutes: number;
  eventsPerProcess: number;
  maxProcesses: number;
}

const contextQuerySchema = {
  type: "object",
  additionalProperties: false,
  properties: {
    minutes: { type: "number", exclusiveMinimum: 0, maximum: MAX_CONTEXT_MINUTES, default: 5 },
    eventsPerProcess,
    maxProcesses,
  },
} as const;

export function registerEventRoutes(app: App, options: EventRoutesOptions): void {
  app.get<{ Querystring: EventsQuery }>(
    "/api/v1/events",
    {
      config: { role: "viewer" },
      schema: { summary: "Search stored events, one page at a time", querystring: eventsQuerySchema },
    },
    async (request, reply) => {
      const queries = options.queries;
      if (!queries) return noEventStore(reply);
      const query = request.query;
      const search: EventSearch = {
        size: query.limit,
        hostName: query.host,
        hostId: query.hostId,
        fromMs: msOf(query.from),
        toMs: msOf(query.to),
        categories: query.category,
        actions: query.action,
        executable: query.executable,
        processEntityId: query.entityId,
        pid: query.pid,
        userName: query.user,
        destinationIp: query.dstIp,
        destinationPort: query.dstPort,
        filePathPrefix: query.path,
        text: query.q,
        order: query.order,
        cursor: query.cursor,
      };
      try {
        const checked = checkEventSearch(search);
        if (checked.cursor !== undefined) decodeEventCursor(checked.cursor, checked.order);
      } catch (error) {
        return badRequest(reply, apiNames(error));
      }
      try {
        const page = await queries.search(search);
        return { count: page.events.length, ...page };
      } catch (error) {
        return unavailable(request.log, reply, error);
      }
    },
  );

  app.get<{ Querystring: TreeQuery }>(
    "/api/v1/process-tree",
    {
      config: { role: "viewer" },
      schema: {
        summary: "A process's ancestors and descendants on a host, with their events",
        querystring: treeQuerySchema,
      },
    },
    async (request, reply) => {
      const queries = options.queries;
      if (!queries) return noEventStore(reply);
      const query = request.query;
      const tree: ProcessTreeQuery = {
        hostId: query.hostId,
        entityId: query.entityId,
        pid: query.pid,
        atMs: msOf(query.at),
        fromMs: msOf(query.from),
        toMs: msOf(query.to),
        eventsPerProcess: query.eventsPerProcess,
        maxProcesses: query.maxProcesses,
      };
      try {
        checkTreeQuery(tree);
      } catch (error) {
        return badRequest(reply, apiNames(error));
      }
      try {
        return await queries.processTree(tree);
      } catch (error) {
        if (error instanceof ProcessNotFoundError) {
          return reply.code(404).send({ error: "not_found", message: error.message });
        }
        return unavailable(request.log, reply, error);
      }
    },
  );

  app.get<{ Params: { id: string }; Querystring: ContextQuery }>(
    "/api/v1/alerts/:id/context",
    {
      config: { role: "viewer" },
      schema: {
        summary:
          "Around an alert: its process, ancestry and what they and its descendants did within ±minutes",
        params: {
          type: "object",
          required: ["id"],
          properties: { id: { type: "string", minLength: 1, maxLength: 128 } },
        },
        querystring: contextQuerySchema,
      },
    },
    async (request, reply) => {
      const queries = options.queries;
      if (!queries) return noEventStore(reply);
      if (!options.alerts) {
        return reply.code(503).send({ error: "no_alert_store", message: "this server has no alert store" });
      }
      let alert: Awaited<ReturnType<AlertReader["get"]>>;
      try {
        alert = await options.alerts.get(request.params.id);
      } catch (error) {
        return unavailable(request.log, reply, error);
      }
      if (alert === undefined) {
        return reply
          .code(404)
          .send({ error: "not_found", message: `alert ${request.params.id} is not stored` });
      }
      try {
        return await alertContext(queries, alert, request.query);
      } catch (error) {
        return unavailable(request.log, reply, error);
      }
    },
  );
}

function msOf(value: string | undefined): number | undefined {
  return value === undefined ? undefined : Date.parse(value);
}

/** The store's field names in a message, as the API's parameters. */
function apiNames(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const names: Record<string, string> = {
    fromMs: "from",
    toMs: "to",
    atMs: "at",
    destinationPort: "dstPort",
    destinationIp: "dstIp",
    filePathPrefix: "path",
    text: "q",
    userName: "user",
    processEntityId: "entityId",
    hostName: "host",
    categories: "category",
    actions: "action",
    size: "limit",
  };
  const [key, ...rest] = message.split(":");
  return key !== undefined && key in names ? [names[key], ...rest].join(":") : message;
}

function badRequest(reply: FastifyReply, message: string) {
  return reply.code(400).send({ error: "bad_request", message });
}

function noEventStore(reply: FastifyReply) {
  return reply.code(503).send({
    error: "no_event_store",
    message:
      "this server has no event store: the events writer keeps events in SQLite (embedded) or the vigil-events data stream (alerts.elasticsearch)",
  });
}

function unavailable(log: Logger, reply: FastifyReply, error: unknown) {
  log.error({ err: error }, "event query failed");
  return reply.code(503).send({
    error: "event_store_unavailable",
    message: error instanceof Error ? error.message : "the event store did not answer",
  });
}
