import { setTimeout as sleep } from "node:timers/promises";
import { relativeTime, renderTable } from "../output/table";
import { type ApiOptions, apiRequest } from "./api-client";

// `vigil tasks run <kind> --agent|--group|--label|--fleet [key=value…] [--wait]`,
// `vigil tasks show <id>`, `vigil tasks list`: fleet tasks through the REST
// API (operator to run, viewer to read).

export interface RunTaskOptions extends ApiOptions {
  agent?: string;
  group?: string;
  label?: string;
  fleet: boolean;
  ttl?: number;
  /** Wait up to this many seconds for every agent's result, then show them. */
  wait?: number;
  /** How often --wait looks (tests shorten it). */
  pollMs?: number;
}

export interface AgentResult {
  agentId: string;
  state: string;
  serverId?: string;
  finishedAt?: string;
  output?: unknown;
  error?: string;
}

interface TaskDefinition {
  taskId: string;
  kind: string;
  target: string;
  params: Record<string, string>;
  createdAt: string;
  expiresAt: string;
  createdBy: string;
}

interface TaskView extends TaskDefinition {
  results: { total: number; items: AgentResult[]; nextAfter?: string };
}

/** States after which an agent's part changes no more. */
const FINAL_STATES = new Set(["succeeded", "failed", "expired"]);
const RESULTS_PAGE = 500;

function targetOf(options: RunTaskOptions): string {
  const targets = [
    options.agent && `agent:${options.agent}`,
    options.group && `group:${options.group}`,
    options.label && `label:${options.label}`,
    options.fleet && "fleet",
  ].filter((target): target is string => Boolean(target));
  if (targets.length !== 1) throw new Error("give exactly one of --agent, --group, --label, --fleet");
  return targets[0];
}

function paramsOf(args: string[]): Record<string, string> {
  const params: Record<string, string> = {};
  for (const arg of args) {
    const equals = arg.indexOf("=");
    if (equals <= 0) throw new Error(`task parameter "${arg}" must be key=value (e.g. pid=1234)`);
    params[arg.slice(0, equals)] = arg.slice(equals + 1);
  }
  return params;
}

/** What an agent's result says, in one cell: the error, a count for lists, else the JSON. */
function summary(result: AgentResult): string {
  if (result.error) return result.error;
  const output = result.output;
  if (output === undefined) return "";
  if (output && typeof output === "object" && !Array.isArray(output)) {
    const lists = Object.entries(output).filter(([, value]) => Array.isArray(value));
    if (lists.length === 1) return `${(lists[0][1] as unknown[]).length} ${lists[0][0]}`;
  }
  return JSON.stringify(output);
}

const RESULT_COLUMNS = [
  { header: "AGENT", value: (r: AgentResult) => r.agentId },
  { header: "STATE", value: (r: AgentResult) => r.state },
  { header: "SERVER", value: (r: AgentResult) => r.serverId ?? "-" },
  { header: "FINISHED", value: (r: AgentResult) => relativeTime(r.finishedAt) },
  { header: "RESULT", value: summary, shrink: true },
];

/** The task and every page of its per-agent results. */
async function readTask(
  options: ApiOptions,
  taskId: string,
): Promise<{ task: TaskView; results: AgentResult[] }> {
  const results: AgentResult[] = [];
  let after: string | undefined;
  let task: TaskView;
  do {
    const query = new URLSearchParams({ limit: String(RESULTS_PAGE) });
    if (after) query.set("after", after);
    task = await apiRequest<TaskView>(options, "GET", `/api/v1/tasks/${encodeURIComponent(taskId)}?${query}`);
    results.push(...task.results.items);
    after = task.results.nextAfter;
  } while (after);
  return { task, results };
}

function printTask(options: ApiOptions, task: TaskView, results: AgentResult[]): void {
  if (options.json) {
    for (const result of results)
      process.stdout.write(`${JSON.stringify({ taskId: task.taskId, ...result })}\n`);
    return;
  }
  const params = Object.entries(task.params ?? {})
    .map(([key, value]) => `${key}=${value}`)
    .join(" ");
  process.stdout.write(
    `task ${task.taskId}: ${task.kind}${params ? ` ${params}` : ""} on ${task.target}, until ${task.expiresAt}, ${results.length} agents\n`,
  );
  if (results.length > 0) process.stdout.write(renderTable(results, RESULT_COLUMNS));
}

export async function runTask(options: RunTaskOptions, kind: string, args: string[]): Promise<void> {
  const task = await apiRequest<{ taskId: string; target: string; expiresAt: string }>(
    options,
    "POST",
    "/api/v1/tasks",
    {
      kind,
      target: targetOf(options),
      params: paramsOf(args),
      ...(options.ttl === undefined ? {} : { ttlMs: options.ttl * 1000 }),
    },
  );
  if (options.wait === undefined) {
    process.stdout.write(
      options.json
        ? `${JSON.stringify(task)}\n`
        : `${task.taskId}  ${task.target}  until ${task.expiresAt}\n`,
    );
    return;
  }
  const deadline = Date.now() + options.wait * 1000;
  for (;;) {
    const { task: view, results } = await readTask(options, task.taskId);
    const done = results.length > 0 && results.every((result) => FINAL_STATES.has(result.state));
    if (done || Date.now() >= deadline) {
      printTask(options, view, results);
      if (!done) {
        process.stderr.write(
          `not every agent answered within ${options.wait}s; \`vigil tasks show ${task.taskId}\` shows the results as they come\n`,
        );
        process.exitCode = 2;
      } else if (results.some((result) => result.state !== "succeeded")) process.exitCode = 1;
      return;
    }
    await sleep(options.pollMs ?? 500);
  }
}

/** `vigil tasks show <id>`: the task and every agent's result. */
export async function showTask(options: ApiOptions, taskId: string): Promise<void> {
  const { task, results } = await readTask(options, taskId);
  printTask(options, task, results);
}

/** `vigil tasks list`: live tasks, newest first. */
export async function listTasks(options: ApiOptions): Promise<void> {
  const { tasks } = await apiRequest<{ tasks: TaskDefinition[] }>(options, "GET", "/api/v1/tasks?limit=1000");
  if (options.json) {
    for (const task of tasks) process.stdout.write(`${JSON.stringify(task)}\n`);
    return;
  }
  if (tasks.length === 0) {
    process.stdout.write("no live tasks\n");
    return;
  }
  process.stdout.write(
    renderTable(tasks, [
      { header: "TASK", value: (t) => t.taskId },
      { header: "KIND", value: (t) => t.kind },
      { header: "TARGET", value: (t) => t.target, shrink: true },
      { header: "CREATED", value: (t) => relativeTime(t.createdAt) },
      { header: "EXPIRES", value: (t) => relativeTime(t.expiresAt) },
      { header: "BY", value: (t) => t.createdBy, shrink: true },
      {
        header: "PARAMS",
        value: (t) =>
          Object.entries(t.params ?? {})
            .map(([key, value]) => `${key}=${value}`)
            .join(" ") || "-",
        shrink: true,
      },
    ]),
  );
}
