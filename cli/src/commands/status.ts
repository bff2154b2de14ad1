import { relativeTime } from "../output/table";
import { type ApiOptions, apiRequest } from "./api-client";

// `vigil status`: fleet health from GET /api/v1/status, one line per part;
// exit code 1 when something needs attention (not ready, bus down, stale
// agents, a hub backlog with no hub pulling), so scripts can check. Offline
// agents (cleanly disconnected) are shown but do not fail the check.

interface Unavailable {
  error: string;
}

export interface FleetStatus {
  time: string;
  server: { id: string; healthy: boolean; checks: Record<string, string>; ready: boolean; reasons: string[] };
  servers: Array<{ id: string; agents: number }>;
  agents: { total: number; online: number; stale: number; offline: number; eventsPerSecond: number };
  bus: { kind: string; connected: boolean };
  hubs:
    | { durable: string; pending: number; ackPending: number; redelivered: number; waiting: number }
    | { inProcess: true }
    | Unavailable
    | null;
  rules: { version: number; rules: number; enabled: number; changedAt: string } | Unavailable | null;
  alerts: { lastMinute: number; lastHour: number } | Unavailable | null;
}

function unavailable(part: unknown): part is Unavailable {
  return typeof part === "object" && part !== null && "error" in part;
}

/** The lines `vigil status` prints and whether all is well. */
export function describeStatus(status: FleetStatus): { lines: Array<[string, string]>; healthy: boolean } {
  const problems: string[] = [];
  const { server, agents, bus, hubs, rules, alerts } = status;
  if (!server.ready) problems.push(`server ${server.id} not ready`);
  if (!bus.connected) problems.push("bus disconnected");
  if (agents.stale > 0) problems.push(`${agents.stale} stale agents`);
  const checks = Object.entries(server.checks)
    .map(([name, state]) => `${name} ${state}`)
    .join(", ");
  let hubLine: string;
  if (hubs === null) {
    hubLine = "no hub has joined (no consumer on the events stream yet)";
    problems.push("no hub");
  } else if (unavailable(hubs)) {
    hubLine = `unknown (${hubs.error})`;
    problems.push("hub consumer unreadable");
  } else if ("inProcess" in hubs) {
    hubLine = "in-process (embedded mode)";
  } else {
    hubLine = `${hubs.pending} batches waiting, ${hubs.ackPending} in progress, ${hubs.redelivered} redelivered, ${hubs.waiting} pull requests open (consumer ${hubs.durable})`;
    if (hubs.pending > 0 && hubs.waiting === 0 && hubs.ackPending === 0)
      problems.push("events waiting and no hub pulling");
  }
  const ruleLine =
    rules === null
      ? "no rule service on this server"
      : unavailable(rules)
        ? `unknown (${rules.error})`
        : `version ${rules.version}, ${rules.enabled}/${rules.rules} enabled, changed ${relativeTime(rules.changedAt)}`;
  const alertLine =
    alerts === null
      ? "no alert store on this server"
      : unavailable(alerts)
        ? `unknown (${alerts.error})`
        : `${alerts.lastMinute} in the last minute, ${alerts.lastHour} in the last hour`;
  const lines: Array<[string, string]> = [
    [
      "server",
      `${server.id} ${server.ready ? "ready" : `NOT READY (${server.reasons.join(", ")})`}${checks ? `; ${checks}` : ""}`,
    ],
    [
      "servers",
      status.servers.length === 0
        ? "none holds an agent stream"
        : status.servers.map((s) => `${s.id} (${s.agents} agents)`).join(", "),
    ],
    [
      "agents",
      `${agents.total} known: ${agents.online} online, ${agents.stale} stale, ${agents.offline} offline; ${agents.eventsPerSecond} events/s`,
    ],
    ["bus", `${bus.kind} ${bus.connected ? "connected" : "DISCONNECTED"}`],
    ["hubs", hubLine],
    ["rules", ruleLine],
    ["alerts", alertLine],
    ["health", problems.length === 0 ? "ok" : problems.join("; ")],
  ];
  return { lines, healthy: problems.length === 0 };
}

export async function showStatus(options: ApiOptions): Promise<void> {
  const status = await apiRequest<FleetStatus>(options, "GET", "/api/v1/status");
  const { lines, healthy } = describeStatus(status);
  if (options.json) process.stdout.write(`${JSON.stringify({ ...status, healthy })}\n`);
  else {
    const width = Math.max(...lines.map(([name]) => name.length));
    for (const [name, value] of lines) process.stdout.write(`${name.padEnd(width)}  ${value}\n`);
  }
  if (!healthy) process.exitCode = 1;
}
