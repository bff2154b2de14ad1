import { type AgentStatus, type FleetAgentRecord, type FleetAgentView, viewOf } from "./fleet-record";

// Filtering, paging and statistics over the fleet registry's records, for
// GET /api/v1/agents and GET /api/v1/fleet/stats.

export interface AgentQuery {
  status?: AgentStatus;
  /** Case-insensitive substring of the hostname. */
  hostname?: string;
  /** "key=value": agents whose label key has exactly that value. */
  label?: string;
  group?: string;
  /** Agent version, exact. */
  version?: string;
  driverVersion?: string;
  /** Server id holding (or last holding) the agent's stream. */
  server?: string;
  limit: number;
  offset: number;
}

export interface AgentPage {
  /** Agents matching the filters (all pages). */
  total: number;
  offset: number;
  limit: number;
  agents: FleetAgentView[];
}

export function queryAgents(records: FleetAgentRecord[], query: AgentQuery, nowMs: number): AgentPage {
  const hostname = query.hostname?.toLowerCase();
  const separator = query.label?.indexOf("=") ?? -1;
  const labelKey = query.label !== undefined ? query.label.slice(0, separator) : undefined;
  const labelValue = query.label !== undefined ? query.label.slice(separator + 1) : undefined;
  const matching = records
    .map((record) => viewOf(record, nowMs))
    .filter(
      (agent) =>
        (query.status === undefined || agent.status === query.status) &&
        (hostname === undefined || agent.hostname.toLowerCase().includes(hostname)) &&
        (labelKey === undefined ||
          (Object.hasOwn(agent.labels, labelKey) && agent.labels[labelKey] === labelValue)) &&
        (query.group === undefined || agent.groups.includes(query.group)) &&
        (query.version === undefined || agent.agentVersion === query.version) &&
        (query.driverVersion === undefined || agent.driverVersion === query.driverVersion) &&
        (query.server === undefined || agent.serverId === query.server),
    )
    .sort((a, b) => (a.agentId < b.agentId ? -1 : a.agentId > b.agentId ? 1 : 0));
  return {
    total: matching.length,
    offset: query.offset,
    limit: query.limit,
    agents: matching.slice(query.offset, query.offset + query.limit),
  };
}

export interface FleetStats {
  total: number;
  byStatus: Record<AgentStatus, number>;
  /** Agent counts by agent version (all statuses). */
  byAgentVersion: Record<string, number>;
  /** Agent counts by driver version ("none": no driver loaded). */
  byDriverVersion: Record<string, number>;
  /** Sum of the collectors' rates in the last heartbeat of each online agent. */
  eventsPerSecond: number;
  /** Online agents per server id. */
  onlineByServer: Record<string, number>;
}

export function fleetStats(records: FleetAgentRecord[], nowMs: number): FleetStats {
  const stats: FleetStats = {
    total: records.length,
    byStatus: { online: 0, offline: 0, stale: 0 },
    byAgentVersion: {},
    byDriverVersion: {},
    eventsPerSecond: 0,
    onlineByServer: {},
  };
  for (const record of records) {
    const { status } = viewOf(record, nowMs);
    stats.byStatus[status]++;
    increment(stats.byAgentVersion, record.agentVersion || "unknown");
    increment(stats.byDriverVersion, record.driverVersion || "none");
    if (status === "offline") continue;
    increment(stats.onlineByServer, record.serverId);
    for (const rate of Object.values(record.counters?.eventsPerSecond ?? {})) {
      if (Number.isFinite(rate) && rate > 0) stats.eventsPerSecond += rate;
    }
  }
  stats.eventsPerSecond = Math.round(stats.eventsPerSecond * 10) / 10;
  return stats;
}

function increment(counts: Record<string, number>, key: string): void {
  counts[key] = (counts[key] ?? 0) + 1;
}
