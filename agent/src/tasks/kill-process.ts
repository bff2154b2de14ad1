import { startTimeUs } from "../collectors/proc/boot-time";
import { parseProcStat } from "../collectors/proc/proc-stat";
import { readText } from "../collectors/proc/process-reader";
import { TaskError } from "./types";

export interface KillProcessParams {
  pid: number;
  /** The process's start time as process-list and events report it (µs since the epoch). */
  startTimeUs: number;
  signal: "SIGTERM" | "SIGKILL";
}

/** Validates kill-process params: pid, startTimeUs (required), signal TERM (default) or KILL. */
export function parseKillParams(params: Record<string, string>): KillProcessParams {
  const pid = Number(params.pid);
  if (!/^\d{1,10}$/.test(params.pid ?? "") || pid < 1 || pid > 4_194_304) {
    throw new TaskError("params.pid: must be a process id (1..4194304)");
  }
  if (!/^\d{1,17}$/.test(params.startTimeUs ?? "")) {
    throw new TaskError(
      "params.startTimeUs: required, the process's start time (µs since the epoch) as process-list reports it, so a reused pid is never killed",
    );
  }
  const signalName = (params.signal ?? "TERM").toUpperCase().replace(/^SIG/, "");
  if (signalName !== "TERM" && signalName !== "KILL") {
    throw new TaskError(`params.signal: must be TERM or KILL, got "${String(params.signal).slice(0, 20)}"`);
  }
  return {
    pid,
    startTimeUs: Number(params.startTimeUs),
    signal: signalName === "TERM" ? "SIGTERM" : "SIGKILL",
  };
}

/**
 * Signals a process after checking it is the one the operator meant: never
 * pid 1 or the agent itself (or its parent, the service manager in a
 * container), and only when its start time matches, so a pid the kernel has
 * reused since the operator looked is refused. The check and kill(2) are not
 * atomic (Node has no pidfd_send_signal): the pid would have to die and be
 * reused in the microseconds between them.
 */
export function killProcess(
  params: KillProcessParams,
  options: { procRoot: string; bootTimeUs: number },
): { pid: number; signal: string; startTimeUs: number } {
  const { pid } = params;
  if (pid === 1) throw new TaskError("refused: pid 1 (init) is never signalled");
  if (pid === process.pid) throw new TaskError("refused: that is the agent itself");
  const statText = readText(`${options.procRoot}/${pid}/stat`);
  const stat = statText === undefined ? undefined : parseProcStat(statText);
  if (!stat) throw new TaskError(`no process ${pid}`);
  if (stat.ppid === 2 || pid === 2) throw new TaskError(`refused: ${pid} is a kernel thread`);
  const actual = startTimeUs(options.bootTimeUs, stat.startTicks);
  if (actual !== params.startTimeUs) {
    throw new TaskError(
      `refused: process ${pid} started at ${actual}, not ${params.startTimeUs}: the pid was reused or the start time is wrong`,
    );
  }
  try {
    process.kill(pid, params.signal);
  } catch (error) {
    throw new TaskError(
      `kill(${pid}, ${params.signal}) failed: ${(error as NodeJS.ErrnoException).code ?? error}`,
    );
  }
  return { pid, signal: params.signal, startTimeUs: actual };
}
