/** Task kinds agents know (agent/src/tasks); each agent still allows only its own tasks.allow. */
export const TASK_KINDS = ["process-list", "kill-process", "file-hash"] as const;
export type TaskKind = (typeof TASK_KINDS)[number];

/** A task as stored (key `task.<taskId>`): what to run and on which agents. */
export interface TaskDefinition {
  taskId: string;
  kind: TaskKind;
  params: Record<string, string>;
  /** "agent:<id>", "group:<name>", "label:<k>=<v>[,…]" or "fleet" (control/agent-target.ts). */
  target: string;
  createdAt: string;
  /** Delivered to agents that connect until then; a result not in by then is "expired". */
  expiresAt: string;
  /** The API token name that created it. */
  createdBy: string;
}

/**
 * One agent's part of a task (key `result.<taskId>.<agentId>`). Created with
 * compare-and-set when a server sends the task, so across all servers an
 * agent gets a task once; completed by the server that got the answer.
 */
export interface TaskResultEntry {
  agentId: string;
  state: "sent" | "succeeded" | "failed";
  serverId: string;
  sessionId: string;
  sentAt: string;
  finishedAt?: string;
  /** The agent's TaskResult.output (JSON text) and error. */
  output?: string;
  error?: string;
}

/** States the API reports: stored ones, plus "queued" (not sent yet) and "expired" (no result in time). */
export type TaskAgentState = TaskResultEntry["state"] | "queued" | "expired";
