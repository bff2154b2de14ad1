import type { AgentCounters } from "@vigil/proto";
import type { AgentIdentity } from "../normalize/agent-identity";

export interface AgentRecord {
  agentId: string;
  hostname: string;
  version: string;
  os: string;
  kernel: string;
  collectors: string[];
  labels: Record<string, string>;
  online: boolean;
  sessionId: string;
  connectedAt: string;
  lastSeen: string;
  lastSequence: number;
  eventsReceived: number;
  counters: AgentCounters | undefined;
}

/**
 * The agents this server instance has seen. Also the per-agent dedup point:
 * a batch at or below lastSequence was already published.
 */
export class AgentRegistry {
  private readonly agents = new Map<string, AgentRecord>();

  connected(
    identity: AgentIdentity,
    sessionId: string,
    collectors: string[],
    lastAckedSequence: number,
  ): AgentRecord {
    const now = new Date().toISOString();
    const previous = this.agents.get(identity.agentId);
    const record: AgentRecord = {
      agentId: identity.agentId,
      hostname: identity.host.hostname,
      version: identity.agent.version,
      os: [identity.host.os?.name, identity.host.os?.version].filter(Boolean).join(" "),
      kernel: identity.host.os?.kernel ?? "",
      collectors,
      labels: identity.labels,
      online: true,
      sessionId,
      connectedAt: now,
      lastSeen: now,
      lastSequence: Math.max(previous?.lastSequence ?? 0, lastAckedSequence),
      eventsReceived: previous?.eventsReceived ?? 0,
      counters: previous?.counters,
    };
    this.agents.set(identity.agentId, record);
    return record;
  }

  disconnected(agentId: string, sessionId: string): void {
    const record = this.agents.get(agentId);
    // A newer session of the same agent may already have replaced this one.
    if (record && record.sessionId === sessionId) record.online = false;
  }

  get(agentId: string): AgentRecord | undefined {
    return this.agents.get(agentId);
  }

  list(): AgentRecord[] {
    return [...this.agents.values()].sort((a, b) => a.agentId.localeCompare(b.agentId));
  }

  onlineCount(): number {
    let count = 0;
    for (const record of this.agents.values()) if (record.online) count++;
    return count;
  }
}
