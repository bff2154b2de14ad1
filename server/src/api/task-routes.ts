import type { FastifyReply } from "fastify";
import type { AuditActor, AuditTrail } from "../audit/types";
import { type FleetTasks, MAX_RESULTS_PAGE } from "../tasks/fleet-tasks";
import { TaskRejected, type TaskRequest } from "../tasks/task-request";
import type { ApiApp } from "./api-app";

export interface TaskRoutesOptions {
  tasks: FleetTasks;
  /** Task creation is recorded here. */
  audit: AuditTrail;
}

const MAX_TASKS_LISTED = 1000;

const taskBody = {
  type: "object",
  properties: {
    kind: { type: "string", maxLength: 64 },
    target: { type: "string", maxLength: 2048 },
    params: { type: "object" },
    ttlMs: { type: "integer" },
  },
} as const;

const taskParams = {
  type: "object",
  required: ["taskId"],
  properties: { taskId: { type: "string", minLength: 1, maxLength: 64 } },
} as const;

const resultsQuery = {
  type: "object",
  additionalProperties: false,
  properties: {
    limit: { type: "integer", minimum: 1, maximum: MAX_RESULTS_PAGE, default: 100 },
    after: { type: "string", maxLength: 64 },
  },
} as const;

const listQuery = {
  type: "object",
  additionalProperties: false,
  properties: { limit: { type: "integer", minimum: 1, maximum: MAX_TASKS_LISTED, default: 100 } },
} as const;

/**
 * Fleet tasks (README "Tasks"): POST /api/v1/tasks {kind, target, params,
 * ttlMs?} → 202 with the task, which every server sends to the matching
 * agents connected to it (now, or when they connect before it expires);
 * GET /api/v1/tasks/:taskId → the task and a page of per-agent results.
 * The agent runs only the kinds its own tasks.allow permits.
 */
export function registerTaskRoutes(app: ApiApp, options: TaskRoutesOptions): void {
  const { tasks, audit } = options;
  const tags = ["tasks"];

  const create = async (request: { body: TaskRequest; actor: AuditActor }, reply: FastifyReply) => {
    try {
      const task = await tasks.create(request.body ?? {}, request.actor.name);
      await audit.record({
        actor: request.actor,
        action: "task.create",
        target: `task/${task.taskId}`,
        after: task,
      });
      return reply.code(202).send(task);
    } catch (error) {
      if (!(error instanceof TaskRejected)) throw error;
      return reply
        .code(error.status)
        .send({ error: error.status === 429 ? "rate_limited" : "bad_request", message: error.message });
    }
  };

  app.post<{ Body: TaskRequest }>(
    "/api/v1/tasks",
    { config: { role: "operator" }, schema: { tags, body: taskBody } },
    async (request, reply) => create(request, reply),
  );

  // One agent's task, as before fleet targets.
  app.post<{ Params: { id: string }; Body: TaskRequest }>(
    "/api/v1/agents/:id/tasks",
    { config: { role: "operator" }, schema: { tags, body: taskBody } },
    async (request, reply) =>
      create(
        { body: { ...request.body, target: `agent:${request.params.id}` }, actor: request.actor },
        reply,
      ),
  );

  app.get<{ Querystring: { limit: number } }>(
    "/api/v1/tasks",
    { config: { role: "viewer" }, schema: { tags, querystring: listQuery } },
    async (request) => {
      const live = tasks.list(request.query.limit);
      return { count: live.length, tasks: live };
    },
  );

  app.get<{ Params: { taskId: string }; Querystring: { limit: number; after?: string } }>(
    "/api/v1/tasks/:taskId",
    { config: { role: "viewer" }, schema: { tags, params: taskParams, querystring: resultsQuery } },
    async (request, reply) => {
      const view = await tasks.read(request.params.taskId, request.query);
      if (!view) {
        return reply.code(404).send({
          error: "not_found",
          message: `no task ${request.params.taskId} (unknown, or older than the task bucket keeps: 7 days)`,
        });
      }
      return view;
    },
  );
}
