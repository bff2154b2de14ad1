import type { Logger } from "@vigil/common";
import type { Task, TaskResult } from "@vigil/proto";
import { readBootTimeUs } from "../collectors/proc/boot-time";
import { UserNames } from "../collectors/proc/user-names";
import { hashFile } from "./file-hash";
import { killProcess, parseKillParams } from "./kill-process";
import { listProcesses } from "./process-list";
import { TASK_KINDS, TaskError, type TaskKind, type TaskOutcome } from "./types";

export interface TaskRunnerOptions {
  /** Kinds this host's operator allows (config tasks.allow). */
  allow: readonly TaskKind[];
  maxProcesses: number;
  fileHashMaxBytes: number;
  maxConcurrent: number;
  timeoutMs: number;
  logger: Logger;
  procRoot?: string;
  /** Told of every failed task (the agent's lastError). */
  onError?: (message: string) => void;
}

/** A TaskResult's output is JSON of at most this many bytes (the server's message limit is larger). */
export const MAX_TASK_OUTPUT_BYTES = 1024 * 1024;
const SECRET_PARAM = /token|secret|password|passwd|key|credential|auth/i;

export interface TaskCounters {
  ok: number;
  failed: number;
  refused: number;
}

/**
 * Runs the tasks a server sends on the agent's authenticated stream. The
 * server decides who may ask; this host decides what may be asked: only kinds
 * in tasks.allow run (default process-list and file-hash; kill-process only
 * when the operator opts in on the host). Every task is logged with its id,
 * kind, params (secret-looking ones redacted) and outcome. Never throws.
 */
export class TaskRunner {
  readonly counters: TaskCounters = { ok: 0, failed: 0, refused: 0 };
  private running = 0;
  private readonly procRoot: string;
  private readonly userNames = new UserNames();
  private readonly bootTimeUs: number;

  constructor(private readonly options: TaskRunnerOptions) {
    this.procRoot = options.procRoot ?? "/proc";
    this.bootTimeUs = readBootTimeUs(this.procRoot);
  }

  async run(task: Task): Promise<TaskResult> {
    const started = performance.now();
    const outcome = await this.outcome(task);
    const status = outcome.ok ? "ok" : outcome.refused ? "refused" : "failed";
    this.counters[status]++;
    const log = {
      taskId: task.taskId,
      kind: task.kind,
      params: redact(task.params),
      status,
      ms: Math.round(performance.now() - started),
      ...(outcome.ok ? {} : { error: outcome.error }),
    };
    if (outcome.ok) this.options.logger.info(log, "task done");
    else {
      this.options.logger.warn(log, `task ${status}`);
      this.options.onError?.(`task ${task.kind} ${task.taskId}: ${outcome.error}`);
    }
    if (!outcome.ok) return { taskId: task.taskId, ok: false, output: "", error: outcome.error };
    return { taskId: task.taskId, ok: true, output: boundedJson(outcome.output), error: "" };
  }

  private async outcome(task: Task): Promise<TaskOutcome & { refused?: boolean }> {
    const kind = task.kind as TaskKind;
    if (!(TASK_KINDS as readonly string[]).includes(kind)) {
      return { ok: false, error: `unsupported task kind "${task.kind.slice(0, 40)}"`, refused: true };
    }
    if (!this.options.allow.includes(kind)) {
      return {
        ok: false,
        error: `task kind "${kind}" is not allowed on this host (agent config tasks.allow)`,
        refused: true,
      };
    }
    if (this.running >= this.options.maxConcurrent) {
      return { ok: false, error: `busy: ${this.running} tasks already running`, refused: true };
    }
    this.running++;
    let timer: NodeJS.Timeout | undefined;
    try {
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new TaskError(`timed out after ${this.options.timeoutMs} ms`)),
          this.options.timeoutMs,
        );
      });
      return { ok: true, output: await Promise.race([this.execute(kind, task.params), timeout]) };
    } catch (error) {
      if (error instanceof TaskError) {
        return { ok: false, error: error.message, refused: error.message.startsWith("refused") };
      }
      return { ok: false, error: `unexpected error: ${(error as Error).message}` };
    } finally {
      clearTimeout(timer);
      this.running--;
    }
  }

  private async execute(kind: TaskKind, params: Record<string, string>): Promise<unknown> {
    switch (kind) {
      case "process-list":
        return listProcesses({
          procRoot: this.procRoot,
          bootTimeUs: this.bootTimeUs,
          userNames: this.userNames,
          maxProcesses: this.options.maxProcesses,
          maxArgs: 64,
        });
      case "kill-process":
        return killProcess(parseKillParams(params), { procRoot: this.procRoot, bootTimeUs: this.bootTimeUs });
      case "file-hash":
        return hashFile(params.path, { maxBytes: this.options.fileHashMaxBytes, userNames: this.userNames });
      default: {
        const unreachable: never = kind;
        return unreachable;
      }
    }
  }
}

function redact(params: Record<string, string>): Record<string, string> {
  const shown: Record<string, string> = {};
  for (const [key, value] of Object.entries(params)) {
    shown[key.slice(0, 64)] = SECRET_PARAM.test(key) ? "[redacted]" : value.slice(0, 256);
  }
  return shown;
}

/** JSON of the output; a process list too big for MAX_TASK_OUTPUT_BYTES keeps its first entries. */
function boundedJson(output: unknown): string {
  let text = JSON.stringify(output);
  const list = output as { processes?: unknown[]; truncated?: boolean };
  while (Buffer.byteLength(text) > MAX_TASK_OUTPUT_BYTES && Array.isArray(list.processes)) {
    list.processes = list.processes.slice(0, Math.floor(list.processes.length / 2));
    list.truncated = true;
    text = JSON.stringify(list);
  }
  return text;
}
