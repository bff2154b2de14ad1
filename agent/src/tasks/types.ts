/** The task kinds this agent knows (Task.kind). */
export const TASK_KINDS = ["process-list", "kill-process", "file-hash"] as const;
export type TaskKind = (typeof TASK_KINDS)[number];

/** What `tasks.allow` holds when the operator set nothing: read-only tasks only. */
export const DEFAULT_ALLOWED_TASKS: TaskKind[] = ["process-list", "file-hash"];

/** A task's answer before it becomes a TaskResult: output is JSON-encoded. */
export type TaskOutcome = { ok: true; output: unknown } | { ok: false; error: string };

/** A task refused or failed with a reason the operator reads. */
export class TaskError extends Error {}
