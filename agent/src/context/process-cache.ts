import { readdirSync } from "node:fs";
import type { Process, ProcessRef } from "@vigil/proto";
import { type ProcessReaderOptions, readProcessSnapshot } from "../collectors/proc/process-reader";
import { emptySnapshot, type ProcessSnapshot } from "../collectors/proc/process-snapshot";
import type { UserNames } from "../collectors/proc/user-names";
import { AUDIT_UNSET } from "./login-info";
import { DEFAULT_CONTEXT_EXIT_GRACE_MS, DEFAULT_CONTEXT_MAX_PROCESSES } from "./types";

export interface ProcessCacheOptions extends ProcessReaderOptions {
  /** Bound on remembered processes (context.maxProcesses); the least recently touched go first. */
  maxEntries?: number;
  /** How long an exited process stays resolvable (context.exitGraceMs), so late events still get ancestry. */
  exitGraceMs?: number;
  userNames: UserNames;
  /** False for captures of another host: misses are never looked up in this host's /proc. */
  readProc?: boolean;
  /** Clock (ms) for the exit grace; Date.now by default. */
  now?: () => number;
}

export interface ProcessCacheCounters {
  /** Dropped by the LRU bound. */
  evictions: number;
  /** Forgotten exitGraceMs after their exit. */
  expired: number;
  /** Looked up in /proc because no event had introduced them. */
  procReads: number;
}

/**
 * The agent's process cache (README "Context on every event"): one pid-keyed
 * LRU shared by the driver, ftrace and procfs collectors, fed by their
 * exec/fork/exit events, seeded by a /proc scan at start and read from /proc
 * on a miss. Short-lived processes are gone from /proc before their events are
 * decoded, so what a fork inherited and what exec/chdir/setuid changed is
 * tracked here; an exited process stays for exitGraceMs so that events decoded
 * late (its children's, its own) still find their ancestry.
 */
export class ProcessCache {
  private readonly entries = new Map<number, ProcessSnapshot>();
  private readonly maxEntries: number;
  private readonly exitGraceMs: number;
  private readonly readProc: boolean;
  private readonly now: () => number;
  private nextSweepMs = 0;
  readonly counters: ProcessCacheCounters = { evictions: 0, expired: 0, procReads: 0 };

  constructor(private readonly options: ProcessCacheOptions) {
    this.maxEntries = options.maxEntries ?? DEFAULT_CONTEXT_MAX_PROCESSES;
    this.exitGraceMs = options.exitGraceMs ?? DEFAULT_CONTEXT_EXIT_GRACE_MS;
    this.readProc = options.readProc ?? true;
    this.now = options.now ?? Date.now;
  }

  get size(): number {
    return this.entries.size;
  }

  get evictions(): number {
    return this.counters.evictions;
  }

  get userNames(): UserNames {
    return this.options.userNames;
  }

  /** Every process in /proc (the start-up seed); returns how many were added. */
  seed(): number {
    if (!this.readProc) return 0;
    let names: string[];
    try {
      names = readdirSync(this.options.procRoot);
    } catch {
      return 0;
    }
    let added = 0;
    for (const name of names) {
      const pid = Number(name);
      if (!Number.isInteger(pid) || pid <= 0 || this.entries.has(pid)) continue;
      const snapshot = readProcessSnapshot(pid, this.options);
      if (snapshot === undefined) continue;
      this.put(snapshot);
      added++;
    }
    return added;
  }

  /** From the cache, else from /proc (and then cached). */
  get(pid: number): ProcessSnapshot | undefined {
    return this.peek(pid) ?? this.refresh(pid);
  }

  /** From the cache only; an exited process past its grace is forgotten here. */
  peek(pid: number): ProcessSnapshot | undefined {
    const cached = this.entries.get(pid);
    if (cached === undefined) return undefined;
    if (cached.exitedAtMs > 0 && this.now() - cached.exitedAtMs > this.exitGraceMs) {
      this.entries.delete(pid);
      this.counters.expired++;
      return undefined;
    }
    return cached;
  }

  /** Re-reads /proc; keeps the cached entry when the process is already gone. */
  refresh(pid: number): ProcessSnapshot | undefined {
    const fresh = this.readProc && pid > 0 ? readProcessSnapshot(pid, this.options) : undefined;
    const cached = this.peek(pid);
    if (fresh === undefined) return cached;
    this.counters.procReads++;
    // A zombie has no argv, exe or cwd any more: keep what events told us.
    if (cached !== undefined && cached.startTimeUs !== 0 && sameProcess(cached, fresh)) {
      if (fresh.args.length === 0) fresh.args = cached.args;
      if (fresh.executable === "") fresh.executable = cached.executable;
      if (fresh.executable === cached.executable) fresh.execFilename = cached.execFilename;
      if (fresh.cwd === "") fresh.cwd = cached.cwd;
      // One start time per process: the entity id must not change when /proc is read again.
      fresh.startTimeUs = cached.startTimeUs;
      if (cached.exitedAtMs > 0) fresh.exitedAtMs = cached.exitedAtMs;
    }
    this.put(fresh);
    return fresh;
  }

  put(snapshot: ProcessSnapshot): void {
    this.entries.delete(snapshot.pid);
    this.entries.set(snapshot.pid, snapshot);
    if (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) {
        this.entries.delete(oldest);
        this.counters.evictions++;
      }
    }
    this.sweep();
  }

  /** The process exited: still resolvable for exitGraceMs, then forgotten. */
  markExited(pid: number): ProcessSnapshot | undefined {
    const snapshot = this.entries.get(pid);
    if (snapshot === undefined) return undefined;
    snapshot.exited = true;
    if (snapshot.exitedAtMs === 0) snapshot.exitedAtMs = this.now();
    return snapshot;
  }

  /** A new process inherits its parent's identity until exec/setuid/chdir say otherwise. */
  fork(parentPid: number, childPid: number, timestampUs: number): ProcessSnapshot {
    const parent = this.get(parentPid);
    const child = emptySnapshot(childPid);
    child.ppid = parentPid;
    child.startTimeUs = timestampUs;
    if (parent !== undefined) inherit(child, parent);
    this.put(child);
    return child;
  }

  /** The entry for pid, created empty when neither cache nor /proc knows it. */
  getOrCreate(pid: number): ProcessSnapshot {
    const known = this.get(pid);
    if (known !== undefined) return known;
    const created = emptySnapshot(pid);
    this.put(created);
    return created;
  }

  /** The event's Process: the snapshot with its parent and grandparent (entity ids are the agent's, event-enricher.ts). */
  toProcess(snapshot: ProcessSnapshot): Process {
    const parent = snapshot.ppid > 0 ? this.get(snapshot.ppid) : undefined;
    const grandparent = parent !== undefined && parent.ppid > 0 ? this.get(parent.ppid) : undefined;
    const loginUidSet = snapshot.loginUid !== AUDIT_UNSET;
    return {
      pid: snapshot.pid,
      ppid: snapshot.ppid,
      name: snapshot.name,
      executable: snapshot.executable,
      args: snapshot.args,
      workingDirectory: snapshot.cwd,
      uid: snapshot.uid,
      euid: snapshot.euid,
      gid: snapshot.gid,
      egid: snapshot.egid,
      userName: this.options.userNames.lookup(snapshot.uid),
      startTimeUs: snapshot.startTimeUs,
      tty: snapshot.tty,
      sessionId: snapshot.sessionId,
      containerId: snapshot.containerId,
      parent: parent === undefined ? undefined : toRef(parent),
      grandparent: grandparent === undefined ? undefined : toRef(grandparent),
      execFilename: snapshot.execFilename ?? "",
      entityId: "",
      sha256: "",
      loginUid: loginUidSet ? snapshot.loginUid : 0,
      loginUidSet,
      loginSessionId: snapshot.loginSessionId,
      loginUserName: loginUidSet ? this.options.userNames.lookup(snapshot.loginUid) : "",
    };
  }

  /** Drops exited processes past their grace; at most once a second, from put(). */
  private sweep(): void {
    const now = this.now();
    if (now < this.nextSweepMs) return;
    this.nextSweepMs = now + 1000;
    for (const [pid, snapshot] of this.entries) {
      if (snapshot.exitedAtMs > 0 && now - snapshot.exitedAtMs > this.exitGraceMs) {
        this.entries.delete(pid);
        this.counters.expired++;
      }
    }
  }
}

/** What a fork copies from its parent (exec, setuid and chdir change it later). */
export function inherit(child: ProcessSnapshot, parent: ProcessSnapshot): void {
  child.name = parent.name;
  child.executable = parent.executable;
  child.execFilename = parent.execFilename;
  child.args = parent.args;
  child.cwd = parent.cwd;
  child.uid = parent.uid;
  child.euid = parent.euid;
  child.gid = parent.gid;
  child.egid = parent.egid;
  child.tty = parent.tty;
  child.sessionId = parent.sessionId;
  child.containerId = parent.containerId;
  child.loginUid = parent.loginUid;
  child.loginSessionId = parent.loginSessionId;
}

/** /proc start times are 10 ms ticks; an event's is its timestamp: the same process when within a tick or two. */
function sameProcess(cached: ProcessSnapshot, fresh: ProcessSnapshot): boolean {
  return Math.abs(cached.startTimeUs - fresh.startTimeUs) < 50_000;
}

export function toRef(snapshot: ProcessSnapshot): ProcessRef {
  return {
    pid: snapshot.pid,
    name: snapshot.name,
    executable: snapshot.executable,
    args: snapshot.args,
    uid: snapshot.uid,
    startTimeUs: snapshot.startTimeUs,
    execFilename: snapshot.execFilename ?? "",
    entityId: "",
  };
}
