import { type ApiOptions, apiRequest } from "./api-client";

// `vigil tasks run <kind> --agent|--group|--label|--fleet [key=value…] | show <id>`:
// fleet tasks through the REST API (operator to run, viewer to read).

export interface RunTaskOptions extends ApiOptions {
  agent?: string;
  group?: string;
  label?: string;
  fleet: boolean;
  ttl?: number;
}

interface AgentResult {
  agentId: string;
  state: string;
  serverId?: string;
  output?: unknown;
  error?: string;
}

interface TaskView {
  taskId: string;
  kind: string;
  target: string;
  expiresAt: string;
  results: { total: number; items: AgentResult[]; nextAfter?: string };
}

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
  process.stdout.write(
    options.json ? `${JSON.stringify(task)}\n` : `${task.taskId}  ${task.target}  until ${task.expiresAt}\n`,
  );
}

/** Every page of the task's per-agent results. */
export async function showTask(options: ApiOptions, taskId: string): Promise<void> {
  let after: string | undefined;
  let first = true;
  do {
    const query = `?limit=500${after ? `&after=${encodeURIComponent(after)}` : ""}`;
    const view = await apiRequest<TaskView>(
      options,
      "GET",
      `/api/v1/tasks/${encodeURIComponent(taskId)}${query}`,
    );
    if (first && !options.json) {
      process.stdout.write(
        `${view.taskId}  ${view.kind}  ${view.target}  until ${view.expiresAt}  ${view.results.total} agents\n`,
      );
    }
    first = false;
    for (const result of view.results.items) {
      if (options.json) process.stdout.write(`${JSON.stringify(result)}\n`);
      else {
        const detail = result.error
          ? `  ${result.error}`
          : result.output === undefined
            ? ""
            : `  ${JSON.stringify(result.output).slice(0, 200)}`;
        process.stdout.write(
          `${result.agentId.padEnd(32)} ${result.state.padEnd(10)} ${result.serverId ?? ""}${detail}\n`,
        );
      }
    }
    after = view.results.nextAfter;
  } while (after);
}
