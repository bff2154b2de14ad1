import { randomUUID } from "node:crypto";
import type { Task, TaskResult } from "@vigil/proto";

/** Task kinds agents know (agent/src/tasks); each agent still allows only its own tasks.allow. */
export const TASK_KINDS = ["process-list", "kill-process", "file-hash"] as const;

export type TaskState = "queued" | "sent" | "succeeded" | "failed" | "expired";

export interface TaskRecord {
  taskId: string;
  agentId: string;
  kind: string;
  params: Record<string, string>;
  state: TaskState;
  createdAt: string;
  /** Not delivered, or delivered and not answered, by then: "expired". */
  expiresAt: string;
  sentAt?: string;
  finishedAt?: string;
  /** The agent's TaskResult.output (JSON text) and error. */
  output?: string;
  error?: string;
}

export interface TaskStoreOptions {
  /** Tasks an agent may have queued or in flight at once. */
  maxPendingPerAgent: number;
  defaultTtlMs: number;
  maxTtlMs: number;
  /** Tasks kept (any state); beyond it the oldest finished ones go first. */
  maxTasks: number;
  /** Bytes of result output kept; beyond it the oldest finished tasks go. */
  maxOutputBytes: number;
}

export const DEFAULT_TASK_STORE_OPTIONS: TaskStoreOptions = {
  maxPendingPerAgent: 16,
  defaultTtlMs: 5 * 60_000,
  maxTtlMs: 60 * 60_000,
  maxTasks: 1000,
  maxOutputBytes: 64 * 1024 * 1024,
};

const MAX_PARAMS = 16;
const MAX_PARAM_KEY = 64;
const MAX_PARAM_VALUE = 4096;

/** Why a task was not created: the REST API answers 400 (bad request) or 429 (queue full). */
export class TaskRejected extends Error {
  constructor(
    readonly status: 400 | 429,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Tasks operators created for agents, in memory on this server instance (a
 * later issue persists them in NATS KV so any instance can answer): a bounded
 * queue per agent, delivered on the agent's stream when it is connected here
 * (at once, or with its next Welcome), expired when not answered within their
 * TTL, and kept with their results up to maxTasks / maxOutputBytes.
 */
export class TaskStore {
  private readonly tasks = new Map<string, TaskRecord>();
  private outputBytes = 0;

  constructor(private readonly options: TaskStoreOptions = DEFAULT_TASK_STORE_OPTIONS) {}

  create(agentId: string, kind: unknown, params: unknown, ttlMs?: unknown): TaskRecord {
    this.expire();
    if (typeof kind !== "string" || !(TASK_KINDS as readonly string[]).includes(kind)) {
      throw new TaskRejected(400, `kind: must be one of ${TASK_KINDS.join(", ")}`);
    }
    const checked = checkParams(params ?? {});
    const ttl = ttlMs === undefined ? this.options.defaultTtlMs : Number(ttlMs);
    if (!Number.isInteger(ttl) || ttl < 1000 || ttl > this.options.maxTtlMs) {
      throw new TaskRejected(400, `ttlMs: must be an integer from 1000 to ${this.options.maxTtlMs}`);
    }
    const pending = this.pendingFor(agentId).length;
    if (pending >= this.options.maxPendingPerAgent) {
      throw new TaskRejected(
        429,
        `agent ${agentId} already has ${pending} tasks queued or running (limit ${this.options.maxPendingPerAgent})`,
      );
    }
    const now = Date.now();
    const record: TaskRecord = {
      taskId: randomUUID(),
      agentId,
      kind,
      params: checked,
      state: "queued",
      createdAt: new Date(now).toISOString(),
      expiresAt: new Date(now + ttl).toISOString(),
    };
    this.tasks.set(record.taskId, record);
    this.evict();
    return record;
  }

  get(taskId: string): TaskRecord | undefined {
    this.expire();
    return this.tasks.get(taskId);
  }

  /** The agent's queued tasks, now marked sent: the caller writes them on its stream. */
  takeQueued(agentId: string): Task[] {
    this.expire();
    const out: Task[] = [];
    const now = new Date().toISOString();
    for (const record of this.tasks.values()) {
      if (record.agentId !== agentId || record.state !== "queued") continue;
      record.state = "sent";
      record.sentAt = now;
      out.push({ taskId: record.taskId, kind: record.kind, params: { ...record.params } });
    }
    return out;
  }

  /** A TaskResult from `agentId`'s stream; undefined when no task of that agent awaits it. */
  complete(agentId: string, result: TaskResult): TaskRecord | undefined {
    const record = this.tasks.get(result.taskId);
    if (!record || record.agentId !== agentId || record.state !== "sent") return undefined;
    record.state = result.ok ? "succeeded" : "failed";
    record.finishedAt = new Date().toISOString();
    record.output = result.output;
    record.error = result.error;
    this.outputBytes += Buffer.byteLength(result.output);
    this.evict();
    return record;
  }

  /** Tasks sent to the agent on a stream that ended go back to the queue (the agent may not have run them). */
  requeue(agentId: string): void {
    for (const record of this.tasks.values()) {
      if (record.agentId === agentId && record.state === "sent" && record.kind !== "kill-process") {
        record.state = "queued";
      }
    }
  }

  private pendingFor(agentId: string): TaskRecord[] {
    return [...this.tasks.values()].filter(
      (record) => record.agentId === agentId && (record.state === "queued" || record.state === "sent"),
    );
  }

  private expire(): void {
    const now = new Date().toISOString();
    for (const record of this.tasks.values()) {
      if ((record.state === "queued" || record.state === "sent") && record.expiresAt <= now) {
        record.state = "expired";
        record.finishedAt = now;
        record.error = "no result from the agent before the task expired";
      }
    }
  }

  private evict(): void {
    const { maxTasks, maxOutputBytes } = this.options;
    if (this.tasks.size <= maxTasks && this.outputBytes <= maxOutputBytes) return;
    // Map order is creation order: the oldest finished tasks go first.
    for (const [taskId, record] of this.tasks) {
      if (this.tasks.size <= maxTasks && this.outputBytes <= maxOutputBytes) return;
      if (record.state === "queued" || record.state === "sent") continue;
      this.outputBytes -= Buffer.byteLength(record.output ?? "");
      this.tasks.delete(taskId);
    }
  }
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
