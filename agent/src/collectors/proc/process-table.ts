import type { Process, ProcessRef } from "@vigil/proto";
import { type ProcessReaderOptions, readProcessSnapshot } from "./process-reader";
import { emptySnapshot, type ProcessSnapshot } from "./process-snapshot";
import type { UserNames } from "./user-names";

export interface ProcessTableOptions extends ProcessReaderOptions {
  /** Bound on remembered processes; the least recently touched go first. */
  maxEntries: number;
  userNames: UserNames;
}

/**
 * A bounded pid-keyed cache of processes, fed from /proc and from trace events.
 * Short-lived processes are gone from /proc before their events are decoded, so
 * what a fork inherited and what exec/chdir/setuid changed is tracked here.
 */
export class ProcessTable {
  private readonly entries = new Map<number, ProcessSnapshot>();
  private evicted = 0;

  constructor(private readonly options: ProcessTableOptions) {}

  get size(): number {
    return this.entries.size;
  }

  get evictions(): number {
    return this.evicted;
  }

  /** From the cache, else from /proc (and then cached). */
  get(pid: number): ProcessSnapshot | undefined {
    const cached = this.entries.get(pid);
    if (cached !== undefined) return cached;
    return this.refresh(pid);
  }

  peek(pid: number): ProcessSnapshot | undefined {
    return this.entries.get(pid);
  }

  /** Re-reads /proc; keeps the cached entry when the process is already gone. */
  refresh(pid: number): ProcessSnapshot | undefined {
    const fresh = pid > 0 ? readProcessSnapshot(pid, this.options) : undefined;
    if (fresh === undefined) return this.entries.get(pid);
    const cached = this.entries.get(pid);
    // A zombie has no argv, exe or cwd any more: keep what events told us.
    if (cached !== undefined) {
      if (fresh.args.length === 0) fresh.args = cached.args;
      if (fresh.executable === "") fresh.executable = cached.executable;
      if (fresh.cwd === "") fresh.cwd = cached.cwd;
    }
    this.put(fresh);
    return fresh;
  }

  put(snapshot: ProcessSnapshot): void {
    this.entries.delete(snapshot.pid);
    this.entries.set(snapshot.pid, snapshot);
    if (this.entries.size > this.options.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) {
        this.entries.delete(oldest);
        this.evicted++;
      }
    }
  }

  /** A new process inherits its parent's identity until exec/setuid/chdir say otherwise. */
  fork(parentPid: number, childPid: number, timestampUs: number): ProcessSnapshot {
    const parent = this.get(parentPid);
    const child = emptySnapshot(childPid);
    child.ppid = parentPid;
    child.startTimeUs = timestampUs;
    if (parent !== undefined) {
      child.name = parent.name;
      child.executable = parent.executable;
      child.args = parent.args;
      child.cwd = parent.cwd;
      child.uid = parent.uid;
      child.euid = parent.euid;
      child.gid = parent.gid;
      child.egid = parent.egid;
      child.tty = parent.tty;
      child.sessionId = parent.sessionId;
      child.containerId = parent.containerId;
    }
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

  toProcess(snapshot: ProcessSnapshot): Process {
    const parent = snapshot.ppid > 0 ? this.get(snapshot.ppid) : undefined;
    const grandparent = parent !== undefined && parent.ppid > 0 ? this.get(parent.ppid) : undefined;
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
    };
  }
}

function toRef(snapshot: ProcessSnapshot): ProcessRef {
  return {
    pid: snapshot.pid,
    name: snapshot.name,
    executable: snapshot.executable,
    args: snapshot.args,
    uid: snapshot.uid,
    startTimeUs: snapshot.startTimeUs,
    execFilename: snapshot.execFilename ?? "",
  };
}
