import type { AgentCounters } from "@vigil/proto";
import type { AgentIdentity } from "../normalize/agent-identity";

export interface AgentRecord {
  agentId: string;
  hostname: string;
  ips: string[];
  version: string;
  driverVersion: string;
  os: string;
  kernel: string;
  collectors: string[];
  labels: Record<string, string>;
  groups: string[];
  online: boolean;
  sessionId: string;
  connectedAt: string;
  /** connectedAt in ms: orders two sessions of one agent (the newer stream wins). */
  connectedMs: number;
  lastSeen: string;
  lastSequence: number;
  eventsReceived: number;
  /** The latest heartbeat counters (bounded by boundedCounters); counters.config says which policy version the agent applied. */
  counters: AgentCounters | undefined;
  /** The agent policy version this server last sent the agent (0: none). */
  policyVersion: number;
}

/** Per-map bounds on what one agent's heartbeat may make the registry hold. */
export const COUNTER_LIMITS = {
  maxEntries: 512,
  maxKeyChars: 128,
  maxErrorChars: 1000,
  maxCollectors: 32,
} as const;

function boundedMap(map: Record<string, number>): { map: Record<string, number>; dropped: number } {
  const bounded: Record<string, number> = {};
  let kept = 0;
  let dropped = 0;
  for (const [key, value] of Object.entries(map)) {
    if (kept >= COUNTER_LIMITS.maxEntries || key.length > COUNTER_LIMITS.maxKeyChars) {
      dropped++;
      continue;
    }
    bounded[key] = value;
    kept++;
  }
  return { map: bounded, dropped };
}

/**
 * Heartbeat counters cut to COUNTER_LIMITS, so an agent cannot make the
 * registry (and /api/v1/agents) hold more than a few KB for it. `dropped`
 * counts the map entries left out.
 */
export function boundedCounters(counters: AgentCounters): { counters: AgentCounters; dropped: number } {
  const { maxErrorChars, maxKeyChars, maxCollectors } = COUNTER_LIMITS;
  const dropped = boundedMap(counters.droppedByReason);
  const collector = boundedMap(counters.collectorCounters);
  const rates = boundedMap(counters.eventsPerSecond);
  const tasks = boundedMap(counters.tasks);
  const shed = counters.governor ? boundedMap(counters.governor.shedByKind) : { map: {}, dropped: 0 };
  const config = counters.config
    ? {
        ...counters.config,
        lastError: counters.config.lastError.slice(0, maxErrorChars),
      }
    : undefined;
  const collectors = counters.collectors.slice(0, maxCollectors).map((health) => ({
    ...health,
    name: health.name.slice(0, maxKeyChars),
    state: health.state.slice(0, 32),
    lastError: health.lastError.slice(0, maxErrorChars),
  }));
  return {
    counters: {
      ...counters,
      droppedByReason: dropped.map,
      collectorCounters: collector.map,
      config,
      agentVersion: counters.agentVersion.slice(0, maxKeyChars),
      collectors,
      eventsPerSecond: rates.map,
      tasks: tasks.map,
      governor: counters.governor ? { ...counters.governor, shedByKind: shed.map } : undefined,
      lastError: counters.lastError.slice(0, maxErrorChars),
    },
    dropped:
      dropped.dropped +
      collector.dropped +
      rates.dropped +
      tasks.dropped +
      shed.dropped +
      Math.max(0, counters.collectors.length - maxCollectors),
  };
}

export type AgentChange = "connected" | "disconnected";

/**
 * The agents this server instance has seen. Also the per-agent dedup point:
 * a batch at or below lastSequence was already published. The fleet-wide view
 * (every server's agents) is the FleetRegistry, which listens here.
 */
export class AgentRegistry {
  private readonly agents = new Map<string, AgentRecord>();
  private readonly listeners = new Set<(agentId: string, change: AgentChange) => void>();

  /** Calls `listener` after each connect and each disconnect of the current session; returns an unsubscribe. */
  onChange(listener: (agentId: string, change: AgentChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  connected(
    identity: AgentIdentity,
    sessionId: string,
    collectors: string[],
    lastAckedSequence: number,
  ): AgentRecord {
    const nowMs = Date.now();
    const now = new Date(nowMs).toISOString();
    const previous = this.agents.get(identity.agentId);
    const record: AgentRecord = {
      agentId: identity.agentId,
      hostname: identity.host.hostname,
      ips: [...identity.host.ip],
      version: identity.agent.version,
      driverVersion: identity.driverVersion,
      os: [identity.host.os?.name, identity.host.os?.version].filter(Boolean).join(" "),
      kernel: identity.host.os?.kernel ?? "",
      collectors,
      labels: identity.labels,
      groups: identity.groups,
      online: true,
      sessionId,
      connectedAt: now,
      connectedMs: nowMs,
      lastSeen: now,
      lastSequence: Math.max(previous?.lastSequence ?? 0, lastAckedSequence),
      eventsReceived: previous?.eventsReceived ?? 0,
      counters: previous?.counters,
      policyVersion: previous?.policyVersion ?? 0,
    };
    this.agents.set(identity.agentId, record);
    this.notify(identity.agentId, "connected");
    return record;
  }

  disconnected(agentId: string, sessionId: string): void {
    const record = this.agents.get(agentId);
    // A newer session of the same agent may already have replaced this one.
    if (!record || record.sessionId !== sessionId) return;
    record.online = false;
    this.notify(agentId, "disconnected");
  }

  get(agentId: string): AgentRecord | undefined {
    return this.agents.get(agentId);
  }

  list(): AgentRecord[] {
    return [...this.agents.values()].sort((a, b) => a.agentId.localeCompare(b.agentId));
  }

  private notify(agentId: string, change: AgentChange): void {
    for (const listener of this.listeners) listener(agentId, change);
  }

  onlineCount(): number {
    let count = 0;
    for (const record of this.agents.values()) if (record.online) count++;
    return count;
  }
}
