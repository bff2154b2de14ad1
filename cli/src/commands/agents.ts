import { relativeTime, renderTable, shortTime } from "../output/table";
import { type ApiOptions, apiRequest } from "./api-client";

// `vigil agents [list] [filters]` and `vigil agents show <id>`: the fleet
// registry as the server tier sees it (every server's agents).

/** Agents fetched per request; the API allows up to 1000. */
const PAGE = 1000;

export interface AgentFilters {
  status?: string;
  hostname?: string;
  label?: string;
  group?: string;
  version?: string;
  driverVersion?: string;
  server?: string;
}

/** One agent as GET /api/v1/agents answers (the fields the CLI prints). */
export interface AgentView {
  agentId: string;
  hostname: string;
  status: string;
  serverId: string;
  agentVersion: string;
  driverVersion: string;
  labels: Record<string, string>;
  groups: string[];
  lastSeen: string;
  eventsReceived: number;
  [field: string]: unknown;
}

function labelsOf(agent: AgentView): string {
  return Object.entries(agent.labels ?? {})
    .map(([key, value]) => `${key}=${value}`)
    .join(",");
}

const COLUMNS = [
  { header: "AGENT", value: (a: AgentView) => a.agentId },
  { header: "HOSTNAME", value: (a: AgentView) => a.hostname, shrink: true },
  { header: "STATUS", value: (a: AgentView) => a.status },
  { header: "SERVER", value: (a: AgentView) => a.serverId },
  { header: "VERSION", value: (a: AgentView) => a.agentVersion || "-" },
  { header: "DRIVER", value: (a: AgentView) => a.driverVersion || "-" },
  { header: "LAST SEEN", value: (a: AgentView) => relativeTime(a.lastSeen) },
  { header: "EVENTS", value: (a: AgentView) => String(a.eventsReceived ?? 0), align: "right" as const },
  { header: "LABELS", value: (a: AgentView) => labelsOf(a) || "-", shrink: true },
];

/** Every page of the filtered fleet. */
export async function fetchAgents(options: ApiOptions, filters: AgentFilters): Promise<AgentView[]> {
  const agents: AgentView[] = [];
  for (let offset = 0; ; offset += PAGE) {
    const query = new URLSearchParams({ limit: String(PAGE), offset: String(offset) });
    for (const [key, value] of Object.entries(filters))
      if (value !== undefined) query.set(key, String(value));
    const body = await apiRequest<{ agents?: AgentView[]; total?: number }>(
      options,
      "GET",
      `/api/v1/agents?${query}`,
    );
    const page = body.agents ?? [];
    agents.push(...page);
    if (page.length < PAGE || offset + page.length >= (body.total ?? 0)) return agents;
  }
}

/** `vigil agents`: a table (JSON lines with --json), sorted by agent id as the API sorts. */
export async function listAgents(options: ApiOptions, filters: AgentFilters = {}): Promise<void> {
  const agents = await fetchAgents(options, filters);
  if (options.json) {
    for (const agent of agents) process.stdout.write(`${JSON.stringify(agent)}\n`);
    return;
  }
  if (agents.length === 0) {
    process.stdout.write("no agents match\n");
    return;
  }
  process.stdout.write(renderTable(agents, COLUMNS));
}

function counters(agent: AgentView): Array<[string, string]> {
  const c = agent.counters as Record<string, unknown> | undefined;
  if (!c) return [["heartbeat", "none yet"]];
  const rates = Object.entries((c.eventsPerSecond ?? {}) as Record<string, number>)
    .map(([kind, rate]) => `${kind} ${rate}`)
    .join(", ");
  const rss = typeof c.rssBytes === "number" ? `${Math.round(c.rssBytes / 1024 / 1024)} MiB` : "-";
  return [
    ["events/s", rates || "0"],
    ["collected/sent/dropped", `${c.eventsCollected ?? 0} / ${c.eventsSent ?? 0} / ${c.eventsDropped ?? 0}`],
    ["pending batches", String(c.pendingBatches ?? 0)],
    ["cpu / rss", `${c.cpuPercent ?? 0}% / ${rss}`],
    ...(typeof c.lastError === "string" && c.lastError
      ? [["last error", c.lastError] as [string, string]]
      : []),
  ];
}

/** `vigil agents show <id>`: one agent, field by field (the record with --json). */
export async function showAgent(options: ApiOptions, id: string): Promise<void> {
  const agent = await apiRequest<AgentView>(options, "GET", `/api/v1/agents/${encodeURIComponent(id)}`);
  if (options.json) {
    process.stdout.write(`${JSON.stringify(agent)}\n`);
    return;
  }
  const time = (ms: unknown) => (typeof ms === "number" ? `${shortTime(ms)} (${relativeTime(ms)})` : "-");
  const fields: Array<[string, string]> = [
    ["agent", agent.agentId],
    ["hostname", agent.hostname],
    ["status", agent.status],
    ["server", `${agent.serverId} (session ${String(agent.sessionId ?? "-")})`],
    ["ips", ((agent.ips as string[] | undefined) ?? []).join(", ") || "-"],
    ["os / kernel", `${String(agent.os || "-")} / ${String(agent.kernel || "-")}`],
    ["agent / driver", `${agent.agentVersion || "-"} / ${agent.driverVersion || "none"}`],
    ["collectors", ((agent.collectors as string[] | undefined) ?? []).join(", ") || "-"],
    ["labels", labelsOf(agent) || "-"],
    ["groups", (agent.groups ?? []).join(", ") || "-"],
    ["first seen", time(agent.firstSeenMs)],
    ["connected", time(agent.connectedMs)],
    ["last seen", `${shortTime(agent.lastSeen)} (${relativeTime(agent.lastSeen)})`],
    ["events received", String(agent.eventsReceived ?? 0)],
    ["policy version", String(agent.policyVersion ?? "-")],
    ...counters(agent),
  ];
  const width = Math.max(...fields.map(([name]) => name.length));
  for (const [name, value] of fields) process.stdout.write(`${name.padEnd(width)}  ${value}\n`);
}
