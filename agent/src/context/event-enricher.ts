import { processEntityId } from "@vigil/common";
import type { Event, Process } from "@vigil/proto";
import type { EventSink } from "../collectors/types";
import type { ExecutableHasher } from "./executable-hasher";

export interface EventEnricherOptions {
  agentId: string;
  hasher: ExecutableHasher;
  /** An exec of a file not hashed yet is held this long at most (context.hashWaitMs); 0: never held. */
  hashWaitMs: number;
  /** Processes whose executable hash is remembered (context.maxProcesses). */
  maxProcesses: number;
  /** Where /proc/<pid>/exe is read for deleted or memfd executables of live collectors. */
  procRoot?: string;
}

/** Collectors that see this host: a deleted or memfd executable can still be read through /proc/<pid>/exe. */
const LIVE_COLLECTORS = new Set(["driver", "ftrace", "procfs"]);

interface Held {
  event: Event;
  /** Date.now() after which it goes without its hash. */
  deadlineMs: number;
}

/**
 * The last step before batching (README "Context on every event"): sets the
 * entity ids of the process, its parent and grandparent, and the executable's
 * SHA-256.
 *
 * Hashing never blocks a collector. Each process (pid + start time +
 * executable) is hashed once, asynchronously; an event whose hash is known
 * carries it. The event that first names a process whose file is not hashed
 * yet (its exec, or for a process found by the /proc scan or started before
 * the agent, whatever event comes first) is held for at most hashWaitMs so
 * that it carries its hash; events behind it wait with it, so order is kept.
 * When the hash is not ready in time (a large file, a slow disk) the event
 * goes without it and later events of the process carry it. Files over context.hashMaxBytes and unreadable ones are never
 * hashed (counted).
 */
export class EventEnricher {
  private readonly memo = new Map<string, string>();
  private readonly pending = new Set<string>();
  private readonly held: Held[] = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly procRoot: string;
  readonly counters = { hashWaited: 0, hashWaitTimedOut: 0 };

  constructor(
    private readonly options: EventEnricherOptions,
    private readonly forward: EventSink,
  ) {
    this.procRoot = options.procRoot ?? "/proc";
  }

  get heldEvents(): number {
    return this.held.length;
  }

  add(event: Event): void {
    const process = event.process;
    let waitForHash = false;
    if (process !== undefined) {
      this.setEntityIds(process);
      const key = this.hashKey(event, process);
      if (key !== undefined) {
        const known = this.memo.get(key);
        if (known !== undefined) {
          process.sha256 = known;
        } else {
          this.startHash(key, event, process);
          // The first event of a process whose file is being hashed waits
          // (exec, or whatever event first names a process found otherwise):
          // its hash is what an analyst pivots on.
          waitForHash = this.options.hashWaitMs > 0 && this.pending.has(key);
        }
      }
    }
    if (this.held.length === 0 && !waitForHash) {
      this.forward(event);
      return;
    }
    if (waitForHash) this.counters.hashWaited++;
    this.held.push({ event, deadlineMs: waitForHash ? Date.now() + this.options.hashWaitMs : 0 });
    this.release();
  }

  /** Sends everything held now, with whatever hashes are known (agent flush and stop). */
  flush(): void {
    this.release(true);
  }

  private setEntityIds(process: Process): void {
    const { agentId } = this.options;
    if (process.entityId === "")
      process.entityId = processEntityId(agentId, process.pid, process.startTimeUs);
    const { parent, grandparent } = process;
    if (parent !== undefined && parent.entityId === "") {
      parent.entityId = processEntityId(agentId, parent.pid, parent.startTimeUs);
    }
    if (grandparent !== undefined && grandparent.entityId === "") {
      grandparent.entityId = processEntityId(agentId, grandparent.pid, grandparent.startTimeUs);
    }
  }

  private hashKey(event: Event, process: Process): string | undefined {
    if (process.sha256 !== "" || process.executable === "") return undefined;
    // A fork's child runs its parent's file until it execs: no hash of its own to wait for.
    return `${process.pid}:${process.startTimeUs}:${process.executable}\0${event.collector}`;
  }

  private startHash(key: string, event: Event, process: Process): void {
    if (this.pending.has(key)) return;
    let path = process.executable;
    if (!path.startsWith("/") || path.endsWith(" (deleted)") || path.startsWith("/memfd:")) {
      if (!LIVE_COLLECTORS.has(event.collector)) {
        this.remember(key, "");
        return;
      }
      path = `${this.procRoot}/${process.pid}/exe`;
    }
    this.pending.add(key);
    void this.options.hasher.hash(path).then((outcome) => {
      this.pending.delete(key);
      this.remember(key, outcome.kind === "hashed" ? outcome.sha256 : "");
      this.release();
    });
  }

  private remember(key: string, sha256: string): void {
    this.memo.set(key, sha256);
    if (this.memo.size > this.options.maxProcesses) {
      const oldest = this.memo.keys().next().value;
      if (oldest !== undefined) this.memo.delete(oldest);
    }
  }

  /** Forwards held events from the front while they need not wait any more. */
  private release(all = false): void {
    const now = Date.now();
    let sent = 0;
    while (sent < this.held.length) {
      const head = this.held[sent];
      const process = head.event.process;
      const key = process === undefined ? undefined : this.hashKey(head.event, process);
      const ready = key === undefined || !this.pending.has(key);
      if (!ready && !all && now < head.deadlineMs) break;
      if (process !== undefined && key !== undefined) {
        const known = this.memo.get(key);
        if (known !== undefined) process.sha256 = known;
        else if (head.deadlineMs > 0) this.counters.hashWaitTimedOut++;
      }
      this.forward(head.event);
      sent++;
    }
    if (sent > 0) this.held.splice(0, sent);
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.held.length > 0) {
      this.timer = setTimeout(() => this.release(), Math.max(1, this.held[0].deadlineMs - now));
      this.timer.unref();
    }
  }
}
