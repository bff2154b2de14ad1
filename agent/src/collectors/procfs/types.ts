import type { Logger } from "@vigil/common";
import type { ProcessCache } from "../../context/process-cache";

export interface ProcfsCollectorOptions {
  logger: Logger;
  /** Time between scans; default 5000 ms. */
  intervalMs?: number;
  /** Default "/proc". */
  procRoot?: string;
  /** Default "/etc/passwd". */
  passwdPath?: string;
  /** True when another collector already reported this process; those are not re-reported
   *  after the first scan (the first scan is an inventory and reports everything). */
  knownPids?: (pid: number, startTimeUs: number) => boolean;
  /** Report kernel threads (children of kthreadd) too; default false. */
  includeKernelThreads?: boolean;
  /** argv entries kept per process; default 256. */
  maxArgs?: number;
  /** The agent's shared process cache (start-agent.ts); default: one of its own. */
  processCache?: ProcessCache;
}

export const DEFAULT_PROCFS_INTERVAL_MS = 5000;
