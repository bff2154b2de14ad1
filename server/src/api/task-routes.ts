import type { AuditTrail } from "../audit/types";
import type { AgentRegistry } from "../registry/agent-registry";
import { type TaskRecord, TaskRejected, type TaskStore } from "../tasks/task-store";
import type { ApiApp } from "./api-app";

export interface TaskRoutesOptions {
  store: TaskStore;
  /** Sends the agent its queued tasks when it is connected to this server. */
  deliver: (agentId: string) => number;
  registry: AgentRegistry;
  /** Task creation is recorded here. */
  audit?: AuditTrail;
}

/** A task as the API shows it: the agent's JSON output parsed. */
function taskView(record: TaskRecord) {
  let output: unknown = record.output;
  try {
    output = record.output ? JSON.parse(record.output) : undefined;
  } catch {
    // Not JSON: shown as the agent sent it.
  }
  return { ...record, output };
}

/**
 * POST /api/v1/agents/:id/tasks {kind, params, ttlMs?} → 202 with the task
 * (queued, or sent when the agent is connected here); GET /api/v1/tasks/:taskId
 * → its state and result. The agent runs only the kinds its own tasks.allow
 * permits (README "Tasks"). Behind the API's bearer token.
 */
export function registerTaskRoutes(app: ApiApp, options: TaskRoutesOptions): void {
  app.post<{ Params: { id: string }; Body: { kind?: unknown; params?: unknown; ttlMs?: unknown } }>(
    "/api/v1/agents/:id/tasks",
    { config: { role: "operator" }, schema: { tags: ["tasks"], body: { type: "object" } } },
    async (request, reply) => {
      const agentId = request.params.id;
      if (!options.registry.get(agentId)) {
        return reply.code(404).send({ error: "unknown_agent", message: `no agent ${agentId.slice(0, 80)}` });
      }
      const { kind, params, ttlMs } = request.body ?? {};
      let record: TaskRecord;
      try {
        record = options.store.create(agentId, kind, params, ttlMs);
      } catch (error) {
        if (!(error instanceof TaskRejected)) throw error;
        return reply.code(error.status).send({ error: "task_rejected", message: error.message });
      }
      request.log.info(
        { audit: "task-created", taskId: record.taskId, agentId, kind: record.kind, params: record.params },
        "task created",
      );
      await options.audit?.record({
        actor: request.actor,
        action: "task.create",
        target: `agent/${agentId}`,
        after: { taskId: record.taskId, kind: record.kind, params: record.params },
      });
      options.deliver(agentId);
      return reply.code(202).send(taskView(options.store.get(record.taskId) ?? record));
    },
  );

  app.get<{ Params: { taskId: string } }>(
    "/api/v1/tasks/:taskId",
    { config: { role: "viewer" } },
    async (request, reply) => {
      const record = options.store.get(request.params.taskId);
      if (!record) {
        return reply
          .code(404)
          .send({ error: "unknown_task", message: "no such task (or it left the in-memory store)" });
      }
      return taskView(record);
    },
  );
}
