import type { Logger } from "@vigil/common";
import type { ProcessCache } from "../../context/process-cache";

export interface FtraceCollectorOptions {
  logger: Logger;
  /** tracefs root; default: /sys/kernel/tracing (mounted if absent), else /sys/kernel/debug/tracing. */
  tracefsRoot?: string;
  /** Default "/proc". */
  procRoot?: string;
  /** Default "/etc/passwd". */
  passwdPath?: string;
  /** glibc to place uprobes in; default: the one this process maps. */
  libcPath?: string;
  /** Ring-buffer drain interval; default 10 ms. */
  pollIntervalMs?: number;
  /** Ring buffer per CPU; default 4096 KiB. */
  bufferSizeKb?: number;
  /** Ring-buffer page size (kernel >= 6.8); a record larger than a page is lost, so exec argv needs room. Default 64 KiB. */
  subbufSizeKb?: number;
  /** Paths (prefixes, or globs ending in "*") whose opens are reported even read-only. */
  sensitivePaths?: string[];
  /** argv entries captured by the exec uprobes; default 16, max 48. */
  argvSlots?: number;
  /** Report AF_UNIX connects too (frequent: syslog, dbus, nscd); default false. */
  includeUnixConnect?: boolean;
  /** Bound on syscalls in flight awaiting their exit record; default 4096. */
  maxPending?: number;
  /** A call without its exit after this long is dropped; default 5000 ms. */
  pendingTimeoutMs?: number;
  /** Bound on the process cache; default 16384. */
  maxProcesses?: number;
  /** The agent's shared process cache (start-agent.ts); default: one of its own. */
  processCache?: ProcessCache;
}

export const DEFAULT_SENSITIVE_PATHS = ["/etc/shadow", "/etc/gshadow", "/etc/sudoers", "/root/.ssh/"];

export const FTRACE_DEFAULTS = {
  pollIntervalMs: 10,
  bufferSizeKb: 4096,
  subbufSizeKb: 64,
  argvSlots: 16,
  maxPending: 4096,
  pendingTimeoutMs: 5000,
  maxProcesses: 16384,
} as const;

/** Every option with its default applied and its range checked. */
export interface ResolvedFtraceOptions {
  pollIntervalMs: number;
  bufferSizeKb: number;
  subbufSizeKb: number;
  argvSlots: number;
  maxPending: number;
  pendingTimeoutMs: number;
  maxProcesses: number;
  sensitivePaths: string[];
  includeUnixConnect: boolean;
}
