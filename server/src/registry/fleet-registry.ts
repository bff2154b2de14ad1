import { type Bus, isVigilError, type KvBucket, type KvWatch, type Logger } from "@vigil/common";
import type { AgentChange, AgentRegistry } from "./agent-registry";
import {
  AGENT_KEY_PREFIX,
  AGENTS_BUCKET,
  agentKey,
  decodeRecord,
  encodeRecord,
  type FleetAgentRecord,
  recordOf,
  supersedes,
} from "./fleet-record";

// The fleet registry shared by every server instance: each server writes the
// records of the agents whose streams it holds (on connect, once per
// heartbeat, on disconnect; every write a compare-and-set) and watches the
// whole bucket, which gives it the fleet-wide view the API serves and tells
// it when one of its streams was superseded by a newer stream of the same
// agent on another server (failover split brain): it then ends its own.

export interface FleetRegistryOptions {
  bus: Bus;
  /** This server's local sessions (and their dedup state). */
  local: AgentRegistry;
  serverId: string;
  heartbeatIntervalMs: number;
  /** Ends this server's streams of `agentId` (a newer stream exists elsewhere); returns how many. */
  endStreams: (agentId: string, reason: string) => number;
  logger: Logger;
}

interface Cached {
  record: FleetAgentRecord;
  revision: number;
}

interface Written {
  counters: unknown;
  policyVersion: number;
  atMs: number;
}

/** Compare-and-set rounds before a write gives up (another writer keeps winning). */
const MAX_CAS_ATTEMPTS = 5;
const FAILURE_LOG_INTERVAL_MS = 10_000;
/** Ticks per heartbeat interval: how soon a heartbeat reaches the bucket. */
const TICKS_PER_INTERVAL = 5;
/**
 * A record not written for this many intervals (the agent sent no heartbeat)
 * is rewritten anyway, so its age stays under OFFLINE_AFTER_INTERVALS (1.5)
 * while the stream is open: 1.2 + one tick (0.2) leaves 0.1 for the write.
 */
const REFRESH_AFTER_INTERVALS = 1.2;

export class FleetRegistry {
  private readonly view = new Map<string, Cached>();
  private readonly written = new Map<string, Written>();
  private readonly chains = new Map<string, Promise<void>>();
  private readonly timer: NodeJS.Timeout;
  private readonly unsubscribe: () => void;
  private watching = false;
  private closed = false;
  /** Failed writes since the last logged one (a bus outage fails every agent's write). */
  private failedWrites = 0;
  private lastFailureLogMs = 0;

  private constructor(
    private readonly kv: KvBucket,
    private readonly watch: { current?: KvWatch },
    private readonly options: FleetRegistryOptions,
  ) {
    this.unsubscribe = options.local.onChange((agentId, change) => this.onLocalChange(agentId, change));
    this.timer = setInterval(
      () => this.tick(),
      Math.max(20, options.heartbeatIntervalMs / TICKS_PER_INTERVAL),
    );
    this.timer.unref();
  }

  /** Opens (or creates) the bucket and starts watching it; the view holds every record before this resolves. */
  static async open(options: FleetRegistryOptions): Promise<FleetRegistry> {
    const kv = await options.bus.openKv(AGENTS_BUCKET);
    const holder: { current?: KvWatch } = {};
    const registry = new FleetRegistry(kv, holder, options);
    holder.current = await kv.watch({ key: `${AGENT_KEY_PREFIX}*`, initialValues: true }, (entry) =>
      registry.onEntry(entry.key, entry.value, entry.revision, entry.operation),
    );
    registry.watching = true;
    return registry;
  }

  /** Every agent record in the bucket (all servers), by agent id. */
  records(): FleetAgentRecord[] {
    return [...this.view.values()].map((c) => c.record);
  }

  get(agentId: string): FleetAgentRecord | undefined {
    return this.view.get(agentId)?.record;
  }

  /** For /readyz: the bucket watch is open. */
  isWatching(): boolean {
    return this.watching && !this.closed;
  }

  /** Stops watching and writing once the queued writes (e.g. offline on shutdown) are done. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    this.unsubscribe();
    await Promise.all([...this.chains.values()]);
    this.watch.current?.stop();
    this.watching = false;
  }

  private onEntry(key: string, value: Uint8Array, revision: number, operation: "put" | "delete"): void {
    const agentId = key.slice(AGENT_KEY_PREFIX.length);
    const known = this.view.get(agentId);
    // The watch can replay what a write of ours already cached.
    if (known && known.revision >= revision) return;
    if (operation === "delete") {
      this.view.delete(agentId);
      return;
    }
    const record = decodeRecord(value);
    if (!record || record.agentId !== agentId) {
      this.options.logger.warn({ key, revision }, "fleet registry: not an agent record; ignored");
      return;
    }
    this.view.set(agentId, { record, revision });
    this.checkSuperseded(record);
  }

  /** Ends the local stream of an agent that has a newer stream on another server. */
  private checkSuperseded(record: FleetAgentRecord): boolean {
    const local = this.options.local.get(record.agentId);
    if (!local?.online || !supersedes(record, local.connectedMs, local.sessionId)) return false;
    const reason = `superseded by a newer stream of agent ${record.agentId} on server ${record.serverId} (session ${record.sessionId})`;
    const ended = this.options.endStreams(record.agentId, reason);
    this.options.logger.warn(
      { agentId: record.agentId, otherServer: record.serverId, otherSession: record.sessionId, ended },
      "fleet registry: agent connected to another server; older stream ended",
    );
    return true;
  }

  private onLocalChange(agentId: string, change: AgentChange): void {
    this.enqueue(agentId, change === "disconnected");
  }

  /** Heartbeats (new counters) and refreshes of silent agents' records. */
  private tick(): void {
    // Without the bus every write would fail; records are rewritten once it is back (they are due by then).
    if (!this.options.bus.isHealthy()) return;
    const now = Date.now();
    // The bucket's TTL drops an entry without telling watchers: drop it here too.
    for (const [agentId, { record }] of this.view) {
      if (now - record.refreshedMs > AGENTS_BUCKET.ttlMs) this.view.delete(agentId);
    }
    for (const local of this.options.local.list()) {
      if (!local.online) continue;
      const last = this.written.get(local.agentId);
      // A heartbeat replaces the counters object; a policy push changes policyVersion.
      const heartbeat =
        last !== undefined &&
        (last.counters !== local.counters || last.policyVersion !== local.policyVersion);
      const due =
        last === undefined || now - last.atMs >= this.options.heartbeatIntervalMs * REFRESH_AFTER_INTERVALS;
      if (heartbeat || due) this.enqueue(local.agentId, false);
    }
  }

  /** One write at a time per agent, in order. */
  private enqueue(agentId: string, offline: boolean): void {
    if (this.closed && !offline) return;
    const local = this.options.local.get(agentId);
    if (!local) return;
    // Marked before the write so the tick does not queue a second one for the same heartbeat.
    this.written.set(agentId, {
      counters: local.counters,
      policyVersion: local.policyVersion,
      atMs: Date.now(),
    });
    const previous = this.chains.get(agentId) ?? Promise.resolve();
    const next = previous
      .then(() => this.write(agentId, local.sessionId, offline))
      .catch((error: unknown) => this.onWriteFailed(agentId, error))
      .finally(() => {
        if (this.chains.get(agentId) === next) this.chains.delete(agentId);
      });
    this.chains.set(agentId, next);
  }

  /** Logs the first failure, then at most one summary per FAILURE_LOG_INTERVAL_MS. */
  private onWriteFailed(agentId: string, error: unknown): void {
    this.failedWrites++;
    const now = Date.now();
    if (now - this.lastFailureLogMs < FAILURE_LOG_INTERVAL_MS) return;
    this.options.logger.warn(
      { err: error, agentId, failedWrites: this.failedWrites },
      "fleet registry: records not written (readers age them to offline)",
    );
    this.failedWrites = 0;
    this.lastFailureLogMs = now;
  }

  private async write(agentId: string, sessionId: string, offline: boolean): Promise<void> {
    const key = agentKey(agentId);
    for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
      const local = this.options.local.get(agentId);
      // A newer session on this server replaced the one this write was for.
      if (!local || local.sessionId !== sessionId || (!offline && !local.online)) return;
      const current = attempt === 0 ? this.view.get(agentId) : await this.read(key, agentId);
      if (current && current.record.sessionId !== sessionId) {
        if (offline) return; // The record is another session's now: not ours to mark offline.
        if (this.checkSuperseded(current.record)) return;
      }
      let record = recordOf(local, {
        serverId: this.options.serverId,
        heartbeatIntervalMs: this.options.heartbeatIntervalMs,
        nowMs: Date.now(),
        firstSeenMs: current?.record.firstSeenMs,
      });
      let value = encodeRecord(record);
      if (value.byteLength > AGENTS_BUCKET.maxValueBytes) {
        // Counters bounded per map can still add up past the value limit: keep the record, drop them.
        record = { ...record, counters: undefined };
        value = encodeRecord(record);
        this.options.logger.warn(
          { agentId },
          "fleet registry: heartbeat counters too large for the record; left out",
        );
      }
      try {
        const revision = current
          ? await this.kv.update(key, value, current.revision)
          : await this.kv.create(key, value);
        const known = this.view.get(agentId);
        if (!known || known.revision < revision) this.view.set(agentId, { record, revision });
        return;
      } catch (error) {
        if (!isVigilError(error, "VIGIL_ERR_KV_CONFLICT")) throw error;
      }
    }
    this.options.logger.warn({ agentId }, "fleet registry: record kept changing; write given up");
  }

  private async read(key: string, agentId: string): Promise<Cached | undefined> {
    const entry = await this.kv.get(key);
    if (!entry) return undefined;
    const record = decodeRecord(entry.value);
    if (!record || record.agentId !== agentId) return undefined;
    return { record, revision: entry.revision };
  }
}
