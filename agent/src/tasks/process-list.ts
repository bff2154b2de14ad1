import { readdirSync } from "node:fs";
import { readProcessSnapshot } from "../collectors/proc/process-reader";
import type { UserNames } from "../collectors/proc/user-names";

export interface ProcessEntry {
  pid: number;
  ppid: number;
  name: string;
  uid: number;
  user: string;
  /** /proc/<pid>/exe ("" for kernel threads and when unreadable). */
  exe: string;
  argv: string[];
  /** µs since the epoch, as in events' Process.start_time_us; kill-process wants it back. */
  startTimeUs: number;
}

export interface ProcessListOptions {
  procRoot: string;
  bootTimeUs: number;
  userNames: UserNames;
  maxProcesses: number;
  maxArgs: number;
}

/** One process from /proc (read as the process cache reads it), or undefined when it is gone. */
export function readProcessEntry(pid: number, options: ProcessListOptions): ProcessEntry | undefined {
  const snapshot = readProcessSnapshot(pid, options);
  if (!snapshot) return undefined;
  return {
    pid,
    ppid: snapshot.ppid,
    name: snapshot.name,
    uid: snapshot.uid,
    user: options.userNames.lookup(snapshot.uid),
    exe: snapshot.executable,
    argv: snapshot.args,
    startTimeUs: snapshot.startTimeUs,
  };
}

/** A snapshot of every process, in pid order, at most maxProcesses of them (truncated says so). */
export function listProcesses(options: ProcessListOptions): {
  processes: ProcessEntry[];
  total: number;
  truncated: boolean;
} {
  const pids = readdirSync(options.procRoot)
    .filter((name) => /^\d+$/.test(name))
    .map(Number)
    .sort((a, b) => a - b);
  const processes: ProcessEntry[] = [];
  let total = 0;
  for (const pid of pids) {
    const entry = readProcessEntry(pid, options);
    if (!entry) continue;
    total++;
    if (processes.length < options.maxProcesses) processes.push(entry);
  }
  return { processes, total, truncated: total > processes.length };
}
