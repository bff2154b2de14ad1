import { randomUUID } from "node:crypto";
import { formatAgentTarget, parseAgentTarget } from "../control/agent-target";
import { TASK_KINDS, type TaskDefinition, type TaskKind } from "./task-types";

export interface TaskLimits {
  defaultTtlMs: number;
  /** At most the task bucket's TTL, so a task's results outlive its delivery window. */
  maxTtlMs: number;
  /** Unexpired tasks in the fleet at once. */
  maxLiveTasks: number;
  /** Unexpired tasks aimed at one agent id at once. */
  maxLivePerAgent: number;
}

export const DEFAULT_TASK_LIMITS: TaskLimits = {
  defaultTtlMs: 60 * 60_000,
  maxTtlMs: 24 * 60 * 60_000,
  maxLiveTasks: 1000,
  maxLivePerAgent: 16,
};

const MAX_PARAMS = 16;
const MAX_PARAM_KEY = 64;
const MAX_PARAM_VALUE = 4096;

/** Why a task was not created: the REST API answers 400 (bad request) or 429 (too many). */
export class TaskRejected extends Error {
  constructor(
    readonly status: 400 | 429,
    message: string,
  ) {
    super(message);
  }
}

export interface TaskRequest {
  kind?: unknown;
  params?: unknown;
  target?: unknown;
  ttlMs?: unknown;
}

/** Validates a create request into a new task definition; errors name the field. */
export function taskFromRequest(request: TaskRequest, limits: TaskLimits, createdBy: string): TaskDefinition {
  const { kind, params, target, ttlMs } = request;
  if (typeof kind !== "string" || !(TASK_KINDS as readonly string[]).includes(kind)) {
    throw new TaskRejected(400, `kind: must be one of ${TASK_KINDS.join(", ")}`);
  }
  const parsed = parseAgentTarget(target, ["agent", "group", "label", "fleet"]);
  if ("problem" in parsed) throw new TaskRejected(400, `target: ${parsed.problem}`);
  const ttl = ttlMs === undefined ? limits.defaultTtlMs : Number(ttlMs);
  if (!Number.isInteger(ttl) || ttl < 1000 || ttl > limits.maxTtlMs) {
    throw new TaskRejected(400, `ttlMs: must be an integer from 1000 to ${limits.maxTtlMs}`);
  }
  const now = Date.now();
  return {
    taskId: randomUUID(),
    kind: kind as TaskKind,
    params: checkParams(params ?? {}),
    target: formatAgentTarget(parsed.target),
    createdAt: new Date(now).toISOString(),
    expiresAt: new Date(now + ttl).toISOString(),
    createdBy,
  };
}

function checkParams(params: unknown): Record<string, string> {
  if (typeof params !== "object" || params === null || Array.isArray(params)) {
    throw new TaskRejected(400, "params: must be an object of strings");
  }
  const entries = Object.entries(params);
  if (entries.length > MAX_PARAMS) throw new TaskRejected(400, `params: at most ${MAX_PARAMS} keys`);
  const checked: Record<string, string> = {};
  for (const [key, value] of entries) {
    const text = typeof value === "number" ? String(value) : value;
    if (typeof text !== "string") throw new TaskRejected(400, `params.${key.slice(0, 64)}: must be a string`);
    if (key.length > MAX_PARAM_KEY || text.length > MAX_PARAM_VALUE) {
      throw new TaskRejected(400, `params.${key.slice(0, 64)}: key or value too long`);
    }
    checked[key] = text;
  }
  return checked;
}
