import { readFileSync, readlinkSync } from "node:fs";
import { containerIdFromCgroup } from "../../context/container-id";
import { readLoginInfo } from "../../context/login-info";
import { startTimeUs } from "./boot-time";
import { parseCmdline, parseProcStat, parseProcStatus, ttyName } from "./proc-stat";
import type { ProcessSnapshot } from "./process-snapshot";

export interface ProcessReaderOptions {
  procRoot: string;
  bootTimeUs: number;
  /** argv beyond this many entries is cut off. */
  maxArgs: number;
}

/** Reads one process from /proc synchronously: /proc reads cost microseconds, and
 *  finishing before the process exits matters more than yielding the event loop. */
export function readProcessSnapshot(pid: number, options: ProcessReaderOptions): ProcessSnapshot | undefined {
  const dir = `${options.procRoot}/${pid}`;
  const statText = readText(`${dir}/stat`);
  if (statText === undefined) return undefined;
  const stat = parseProcStat(statText);
  if (stat === undefined) return undefined;
  const statusText = readText(`${dir}/status`);
  const status = statusText === undefined ? undefined : parseProcStatus(statusText);
  let args: string[] = [];
  try {
    args = parseCmdline(readFileSync(`${dir}/cmdline`), options.maxArgs);
  } catch {
    // Gone, or a kernel thread: no argv.
  }
  const cgroup = readText(`${dir}/cgroup`);
  const login = readLoginInfo(options.procRoot, pid);
  const exited = stat.state === "Z" || stat.state === "X";
  return {
    pid,
    ppid: stat.ppid,
    name: stat.comm,
    executable: readLink(`${dir}/exe`),
    args,
    cwd: readLink(`${dir}/cwd`),
    uid: status?.uid ?? 0,
    euid: status?.euid ?? 0,
    gid: status?.gid ?? 0,
    egid: status?.egid ?? 0,
    startTimeUs: startTimeUs(options.bootTimeUs, stat.startTicks),
    tty: ttyName(stat.ttyNr),
    sessionId: stat.session,
    containerId: cgroup === undefined ? "" : containerIdFromCgroup(cgroup),
    loginUid: login.loginUid,
    loginSessionId: login.loginSessionId,
    exited,
    exitedAtMs: exited ? Date.now() : 0,
  };
}

export function readText(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}

export function readLink(path: string): string {
  try {
    return readlinkSync(path);
  } catch {
    return "";
  }
}
