import {
  type Bus,
  ErrorCodes,
  isVigilError,
  type KvBucket,
  type KvEntry,
  type KvWatch,
  type Logger,
} from "@vigil/common";
import type { TaskResult } from "@vigil/proto";
import type { AgentControl, AgentLink } from "../control/agent-link";
import { type AgentTarget, parseAgentTarget, targetMatches } from "../control/agent-target";
import {
  DEFAULT_TASK_LIMITS,
  type TaskLimits,
  TaskRejected,
  type TaskRequest,
  taskFromRequest,
} from "./task-request";
import type { TaskAgentState, TaskDefinition, TaskResultEntry } from "./task-types";

const DAY_MS = 24 * 60 * 60_000;
/** Task definitions and results live a week after their last write, then NATS drops them. */
export const TASK_BUCKET_TTL_MS = 7 * DAY_MS;
/** Room kept under the bus's message limit for the KV headers and the entry's other fields. */
const ENTRY_OVERHEAD_BYTES = 8 * 1024;
const TASK_ID = /^[A-Za-z0-9_-]{1,64}$/;
export const MAX_RESULTS_PAGE = 500;

interface LiveTask {
  definition: TaskDefinition;
  target: AgentTarget;
}

interface LinkState {
  link: AgentLink;
  /** Tasks sent on this stream and not answered: task id → revision of its result entry. */
  inFlight: Map<string, number>;
}

export interface TaskAgentView
  extends Omit<TaskResultEntry, "state" | "output" | "serverId" | "sessionId" | "sentAt"> {
  state: TaskAgentState;
  serverId?: string;
  sentAt?: string;
  /** The agent's output, parsed when it is JSON. */
  output?: unknown;
}

export interface TaskView extends TaskDefinition {
  results: { total: number; items: TaskAgentView[]; nextAfter?: string };
}

export interface FleetTasksOptions {
  serverId: string;
  logger: Logger;
  limits?: TaskLimits;
}

/**
 * Operator tasks for the fleet, in a KV bucket shared by every server: a
 * task targets an agent, a group, a label selector or the fleet; every
 * server watches the definitions and sends each task to the matching agents
 * connected to it (at once, or when they connect, until the task expires).
 * An agent's part is claimed with compare-and-set (`result.<task>.<agent>`),
 * so it runs once however many servers see it; its result is written there
 * and any server's API reads it.
 */
export class FleetTasks implements AgentControl {
  private readonly tasks = new Map<string, LiveTask>();
  private readonly links = new Map<string, LinkState>();
  private readonly limits: TaskLimits;
  private readonly maxEntryBytes: number;
  private watch: KvWatch | undefined;

  private constructor(
    private readonly kv: KvBucket,
    private readonly options: FleetTasksOptions,
    maxValueBytes: number,
  ) {
    this.limits = options.limits ?? DEFAULT_TASK_LIMITS;
    this.maxEntryBytes = maxValueBytes;
  }

  static async open(bus: Bus, options: FleetTasksOptions): Promise<FleetTasks> {
    const maxValueBytes = Math.max(
      64 * 1024,
      Math.min(1024 * 1024, bus.maxMessageBytes()) - ENTRY_OVERHEAD_BYTES,
    );
    const kv = await bus.openKv({
      name: "vigil-tasks",
      history: 1,
      ttlMs: TASK_BUCKET_TTL_MS,
      maxValueBytes,
    });
    const tasks = new FleetTasks(kv, options, maxValueBytes);
    // Resolves with every live task known, before the first agent connects.
    tasks.watch = await kv.watch({ key: "task.*", initialValues: true }, (entry) => tasks.onTaskEntry(entry));
    return tasks;
  }

  close(): void {
    this.watch?.stop();
    this.links.clear();
  }

  /** Validates and stores a task; every server then sends it to its matching agents. */
  async create(request: TaskRequest, createdBy: string): Promise<TaskDefinition> {
    const definition = taskFromRequest(request, this.limits, createdBy);
    this.prune();
    if (this.tasks.size >= this.limits.maxLiveTasks) {
      throw new TaskRejected(
        429,
        `${this.tasks.size} tasks are still live (limit ${this.limits.maxLiveTasks}); wait for some to expire`,
      );
    }
    if (definition.target.startsWith("agent:")) {
      const forAgent = [...this.tasks.values()].filter(
        (task) => task.definition.target === definition.target,
      ).length;
      if (forAgent >= this.limits.maxLivePerAgent) {
        throw new TaskRejected(
          429,
          `${definition.target} already has ${forAgent} live tasks (limit ${this.limits.maxLivePerAgent})`,
        );
      }
    }
    const value = Buffer.from(JSON.stringify(definition));
    const revision = await this.kv.create(`task.${definition.taskId}`, value);
    this.onTaskEntry({
      key: `task.${definition.taskId}`,
      value,
      revision,
      createdMs: Date.now(),
      operation: "put",
    });
    return definition;
  }

  /** Live (unexpired) tasks, newest first. */
  list(limit: number): TaskDefinition[] {
    this.prune();
    return [...this.tasks.values()]
      .map((task) => task.definition)
      .sort((a, b) => (a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : 0))
      .slice(0, limit);
  }

  /** A task and a page of its per-agent results (agent ids after `after`, sorted); undefined when unknown or gone. */
  async read(taskId: string, page: { limit: number; after?: string }): Promise<TaskView | undefined> {
    if (!TASK_ID.test(taskId)) return undefined;
    const entry = await this.kv.get(`task.${taskId}`);
    if (!entry) return undefined;
    const definition = JSON.parse(Buffer.from(entry.value).toString("utf8")) as TaskDefinition;
    const expired = Date.parse(definition.expiresAt) <= Date.now();
    const prefix = `result.${taskId}.`;
    const agentIds = (await this.kv.keys(`${prefix}*`)).map((key) => key.slice(prefix.length));
    const single = definition.target.startsWith("agent:")
      ? definition.target.slice("agent:".length)
      : undefined;
    if (single !== undefined && !agentIds.includes(single)) agentIds.push(single);
    const after = page.after ?? "";
    const chosen = agentIds.filter((id) => id > after).slice(0, page.limit);
    const items: TaskAgentView[] = [];
    for (const agentId of chosen) {
      const result = await this.kv.get(prefix + agentId);
      items.push(agentView(agentId, result, expired));
    }
    const more = agentIds.filter((id) => id > after).length > chosen.length;
    return {
      ...definition,
      results: { total: agentIds.length, items, nextAfter: more ? chosen[chosen.length - 1] : undefined },
    };
  }

  attached(link: AgentLink): void {
    this.links.set(link.sessionId, { link, inFlight: new Map() });
    this.prune();
    for (const task of this.tasks.values()) {
      if (targetMatches(task.target, link)) void this.deliver(link, task.definition);
    }
  }

  /**
   * The stream ended: tasks sent on it and not answered go back (their claim
   * is deleted), so the agent gets them again on its next stream, here or on
   * another server; kill-process is never sent twice.
   */
  detached(link: AgentLink): void {
    const state = this.links.get(link.sessionId);
    this.links.delete(link.sessionId);
    if (!state) return;
    for (const [taskId, revision] of state.inFlight) {
      const task = this.tasks.get(taskId);
      if (!task || task.definition.kind === "kill-process" || revision === 0) continue;
      void this.kv
        .delete(`result.${taskId}.${link.agentId}`, revision)
        .then(() => this.redeliver(link.agentId, task.definition))
        .catch((error: unknown) => {
          // A conflict: the agent's newer stream took it over already.
          if (!isVigilError(error, ErrorCodes.KV_CONFLICT)) {
            this.options.logger.warn(
              { err: error, taskId, agentId: link.agentId },
              "task claim not released",
            );
          }
        });
    }
  }

  taskResult(link: AgentLink, result: TaskResult): void {
    void this.complete(link, result).catch((error: unknown) =>
      this.options.logger.error({ err: error, agentId: link.agentId }, "task result not stored"),
    );
  }

  private redeliver(agentId: string, definition: TaskDefinition): void {
    for (const state of this.links.values()) {
      if (state.link.agentId === agentId) void this.deliver(state.link, definition);
    }
  }

  private async deliver(link: AgentLink, definition: TaskDefinition): Promise<void> {
    const state = this.links.get(link.sessionId);
    const { taskId } = definition;
    if (!state || state.inFlight.has(taskId) || Date.parse(definition.expiresAt) <= Date.now()) return;
    state.inFlight.set(taskId, 0);
    try {
      const revision = await this.claim(link, definition);
      if (revision === undefined || this.links.get(link.sessionId) !== state) {
        state.inFlight.delete(taskId);
        if (revision !== undefined) await this.kv.delete(`result.${taskId}.${link.agentId}`, revision);
        return;
      }
      state.inFlight.set(taskId, revision);
      if (link.sendTask({ taskId, kind: definition.kind, params: { ...definition.params } })) {
        this.options.logger.info({ agentId: link.agentId, taskId, kind: definition.kind }, "task sent");
      }
    } catch (error) {
      state.inFlight.delete(taskId);
      this.options.logger.warn({ err: error, agentId: link.agentId, taskId }, "task not delivered");
    }
  }

  /**
   * Claims the agent's part of a task for this stream; the claim's revision,
   * or undefined when the agent has it already (answered, or sent on a stream
   * that is still open here). A claim left "sent" by a stream that is gone
   * (its server died) is taken over, except for kill-process.
   */
  private async claim(link: AgentLink, definition: TaskDefinition): Promise<number | undefined> {
    const key = `result.${definition.taskId}.${link.agentId}`;
    const claim: TaskResultEntry = {
      agentId: link.agentId,
      state: "sent",
      serverId: this.options.serverId,
      sessionId: link.sessionId,
      sentAt: new Date().toISOString(),
    };
    const value = Buffer.from(JSON.stringify(claim));
    try {
      return await this.kv.create(key, value);
    } catch (error) {
      if (!isVigilError(error, ErrorCodes.KV_CONFLICT)) throw error;
    }
    const existing = await this.kv.get(key);
    if (!existing) return undefined;
    const entry = decodeResult(existing);
    const stale =
      entry?.state === "sent" &&
      entry.sessionId !== link.sessionId &&
      !this.links.has(entry.sessionId) &&
      definition.kind !== "kill-process";
    if (!stale) return undefined;
    try {
      return await this.kv.update(key, value, existing.revision);
    } catch (error) {
      if (isVigilError(error, ErrorCodes.KV_CONFLICT)) return undefined;
      throw error;
    }
  }

  private async complete(link: AgentLink, result: TaskResult): Promise<void> {
    const { logger } = this.options;
    const taskId = result.taskId;
    const known = TASK_ID.test(taskId) ? await this.kv.get(`result.${taskId}.${link.agentId}`) : undefined;
    const entry = known ? decodeResult(known) : undefined;
    this.links.get(link.sessionId)?.inFlight.delete(taskId);
    // Only a task sent to this agent is completed: an agent cannot answer another's, nor answer twice.
    if (!known || entry?.state !== "sent") {
      logger.warn(
        { agentId: link.agentId, taskId: taskId.slice(0, 64), ok: result.ok },
        "task result for no task sent to this agent ignored",
      );
      return;
    }
    const done: TaskResultEntry = {
      ...entry,
      state: result.ok ? "succeeded" : "failed",
      finishedAt: new Date().toISOString(),
      output: result.output,
      error: result.error.slice(0, 4096),
    };
    let value = Buffer.from(JSON.stringify(done));
    if (value.byteLength > this.maxEntryBytes) {
      done.output = undefined;
      done.error = `${done.error ? `${done.error}; ` : ""}output of ${Buffer.byteLength(result.output)} bytes is larger than the task store keeps (${this.maxEntryBytes} bytes); not kept`;
      value = Buffer.from(JSON.stringify(done));
    }
    await this.kv.update(known.key, value, known.revision);
    logger.info({ agentId: link.agentId, taskId, ok: result.ok }, "task result stored");
  }

  private onTaskEntry(entry: KvEntry): void {
    const taskId = entry.key.slice("task.".length);
    if (entry.operation === "delete") {
      this.tasks.delete(taskId);
      return;
    }
    if (this.tasks.has(taskId)) return;
    let definition: TaskDefinition;
    try {
      definition = JSON.parse(Buffer.from(entry.value).toString("utf8")) as TaskDefinition;
    } catch {
      this.options.logger.error({ key: entry.key }, "undecodable task ignored");
      return;
    }
    const parsed = parseAgentTarget(definition.target, ["agent", "group", "label", "fleet"]);
    if ("problem" in parsed || Date.parse(definition.expiresAt) <= Date.now()) return;
    this.tasks.set(taskId, { definition, target: parsed.target });
    for (const state of this.links.values()) {
      if (targetMatches(parsed.target, state.link)) void this.deliver(state.link, definition);
    }
  }

  /** Forgets expired tasks (their entries stay readable until the bucket's TTL drops them). */
  private prune(): void {
    const now = Date.now();
    for (const [taskId, task] of this.tasks) {
      if (Date.parse(task.definition.expiresAt) <= now) this.tasks.delete(taskId);
    }
  }
}

function decodeResult(entry: KvEntry): TaskResultEntry | undefined {
  try {
    return JSON.parse(Buffer.from(entry.value).toString("utf8")) as TaskResultEntry;
  } catch {
    return undefined;
  }
}

function agentView(agentId: string, entry: KvEntry | undefined, expired: boolean): TaskAgentView {
  const result = entry ? decodeResult(entry) : undefined;
  if (!result) return { agentId, state: expired ? "expired" : "queued" };
  const { sessionId: _session, output, ...rest } = result;
  let parsed: unknown = output;
  try {
    parsed = output ? JSON.parse(output) : undefined;
  } catch {
    // Not JSON: shown as the agent sent it.
  }
  const state: TaskAgentState = result.state === "sent" && expired ? "expired" : result.state;
  return { ...rest, state, output: parsed };
}
