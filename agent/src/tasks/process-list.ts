import { readdirSync, readFileSync } from "node:fs";
import { startTimeUs } from "../collectors/proc/boot-time";
import { parseCmdline, parseProcStat, parseProcStatus } from "../collectors/proc/proc-stat";
import { readLink, readText } from "../collectors/proc/process-reader";
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

/** One process from /proc, or undefined when it is gone. */
export function readProcessEntry(pid: number, options: ProcessListOptions): ProcessEntry | undefined {
  const dir = `${options.procRoot}/${pid}`;
  const statText = readText(`${dir}/stat`);
  const stat = statText === undefined ? undefined : parseProcStat(statText);
  if (!stat) return undefined;
  const statusText = readText(`${dir}/status`);
  const uid = statusText === undefined ? 0 : parseProcStatus(statusText).uid;
  let argv: string[] = [];
  try {
    argv = parseCmdline(readFileSync(`${dir}/cmdline`), options.maxArgs);
  } catch {
    // Gone, or a kernel thread.
  }
  return {
    pid,
    ppid: stat.ppid,
    name: stat.comm,
    uid,
    user: options.userNames.lookup(uid),
    exe: readLink(`${dir}/exe`),
    argv,
    startTimeUs: startTimeUs(options.bootTimeUs, stat.startTicks),
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
