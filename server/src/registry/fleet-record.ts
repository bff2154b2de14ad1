import type { KvBucketSpec } from "@vigil/common";
import type { AgentCounters } from "@vigil/proto";
import type { AgentRecord } from "./agent-registry";

// One agent as every server instance sees it: the record in the shared KV
// bucket "vigil-agents" (key "agents.<agentId>"), written by the server that
// holds the agent's stream.

export const AGENTS_BUCKET: KvBucketSpec = {
  name: "vigil-agents",
  history: 1,
  // An agent gone for 30 days drops out of the registry (a live one is rewritten every heartbeat).
  ttlMs: 30 * 24 * 3600 * 1000,
  maxValueBytes: 256 * 1024,
};

export const AGENT_KEY_PREFIX = "agents.";

/** Readers call an online record offline once its server has not rewritten it for this many heartbeat intervals. */
export const OFFLINE_AFTER_INTERVALS = 1.5;
/** An online agent whose stream is alive but that sent nothing for this many intervals is "stale". */
export const STALE_AFTER_INTERVALS = 3;

/** Bounds on what an agent's Hello can make its record hold. */
const MAX_LIST_ENTRIES = 64;
const MAX_TEXT_CHARS = 256;

export type AgentStatus = "online" | "offline" | "stale";

export interface FleetAgentRecord {
  agentId: string;
  hostname: string;
  ips: string[];
  os: string;
  kernel: string;
  agentVersion: string;
  driverVersion: string;
  labels: Record<string, string>;
  groups: string[];
  collectors: string[];
  /** What the writing server knew: "offline" after a clean disconnect. Readers use agentStatus(). */
  state: "online" | "offline";
  serverId: string;
  sessionId: string;
  connectedMs: number;
  firstSeenMs: number;
  /** The agent's last message (heartbeat or batch). */
  lastSeenMs: number;
  /** When the holding server last wrote the record (every heartbeat, or every interval for a silent agent). */
  refreshedMs: number;
  /** The holding server's heartbeat interval: how readers age the record. */
  heartbeatIntervalMs: number;
  disconnectedMs?: number;
  eventsReceived: number;
  policyVersion: number;
  /** The latest heartbeat counters, already bounded by boundedCounters. */
  counters: AgentCounters | undefined;
}

/** The agent as the API shows it: the record plus its derived status. */
export interface FleetAgentView extends FleetAgentRecord {
  status: AgentStatus;
  online: boolean;
  lastSeen: string;
}

export function agentKey(agentId: string): string {
  return `${AGENT_KEY_PREFIX}${agentId}`;
}

/**
 * Status at `nowMs`: offline after a clean disconnect, or when the holding
 * server stopped rewriting the record (it died or lost the bus) for
 * OFFLINE_AFTER_INTERVALS; stale when the stream is alive but the agent has
 * been silent for STALE_AFTER_INTERVALS; online otherwise.
 */
export function agentStatus(record: FleetAgentRecord, nowMs: number): AgentStatus {
  if (record.state === "offline") return "offline";
  const interval = record.heartbeatIntervalMs;
  if (nowMs - record.refreshedMs > interval * OFFLINE_AFTER_INTERVALS) return "offline";
  if (nowMs - record.lastSeenMs > interval * STALE_AFTER_INTERVALS) return "stale";
  return "online";
}

export function viewOf(record: FleetAgentRecord, nowMs: number): FleetAgentView {
  const status = agentStatus(record, nowMs);
  return {
    ...record,
    status,
    online: status !== "offline",
    lastSeen: new Date(record.lastSeenMs).toISOString(),
  };
}

export interface WriteContext {
  serverId: string;
  heartbeatIntervalMs: number;
  nowMs: number;
  firstSeenMs: number | undefined;
}

/** The KV record of a session this server holds. */
export function recordOf(local: AgentRecord, context: WriteContext): FleetAgentRecord {
  const lastSeenMs = Date.parse(local.lastSeen);
  return {
    agentId: local.agentId,
    hostname: text(local.hostname),
    ips: local.ips.slice(0, MAX_LIST_ENTRIES).map(text),
    os: text(local.os),
    kernel: text(local.kernel),
    agentVersion: text(local.version),
    driverVersion: text(local.driverVersion),
    labels: Object.fromEntries(
      Object.entries(local.labels)
        .slice(0, MAX_LIST_ENTRIES)
        .map(([key, value]) => [text(key), text(value)]),
    ),
    groups: local.groups.slice(0, MAX_LIST_ENTRIES).map(text),
    collectors: local.collectors.slice(0, MAX_LIST_ENTRIES).map(text),
    state: local.online ? "online" : "offline",
    serverId: context.serverId,
    sessionId: local.sessionId,
    connectedMs: local.connectedMs,
    firstSeenMs: context.firstSeenMs ?? local.connectedMs,
    lastSeenMs: Number.isFinite(lastSeenMs) ? lastSeenMs : local.connectedMs,
    refreshedMs: context.nowMs,
    heartbeatIntervalMs: context.heartbeatIntervalMs,
    ...(local.online ? {} : { disconnectedMs: context.nowMs }),
    eventsReceived: local.eventsReceived,
    policyVersion: local.policyVersion,
    counters: local.counters,
  };
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeRecord(record: FleetAgentRecord): Uint8Array {
  return encoder.encode(JSON.stringify(record));
}

/** The record, or undefined for a value that is not one (logged by the caller). */
export function decodeRecord(value: Uint8Array): FleetAgentRecord | undefined {
  try {
    const parsed = JSON.parse(decoder.decode(value)) as Partial<FleetAgentRecord>;
    const ok =
      typeof parsed.agentId === "string" &&
      typeof parsed.sessionId === "string" &&
      typeof parsed.serverId === "string" &&
      (parsed.state === "online" || parsed.state === "offline") &&
      typeof parsed.connectedMs === "number" &&
      typeof parsed.refreshedMs === "number" &&
      typeof parsed.lastSeenMs === "number" &&
      typeof parsed.heartbeatIntervalMs === "number" &&
      parsed.heartbeatIntervalMs > 0;
    return ok ? (parsed as FleetAgentRecord) : undefined;
  } catch {
    return undefined;
  }
}

/** True when `other` is a newer stream of the agent than the session (connectedMs, sessionId) held here. */
export function supersedes(other: FleetAgentRecord, connectedMs: number, sessionId: string): boolean {
  if (other.sessionId === sessionId || other.state !== "online") return false;
  return (
    other.connectedMs > connectedMs || (other.connectedMs === connectedMs && other.sessionId > sessionId)
  );
}

function text(value: string): string {
  return value.length > MAX_TEXT_CHARS ? value.slice(0, MAX_TEXT_CHARS) : value;
}
