import { readBootTimeUs } from "../collectors/proc/boot-time";
import { UserNames } from "../collectors/proc/user-names";
import type { AgentConfig } from "../config";
import { ProcessCache } from "./process-cache";

/** The agent's shared process cache, from config.context, seeded with every process in /proc. */
export function createProcessCache(config: AgentConfig, procRoot = "/proc"): ProcessCache {
  let bootTimeUs = 0;
  try {
    bootTimeUs = readBootTimeUs(procRoot);
  } catch {
    // No procfs: the collectors that need it say so when they start.
  }
  const cache = new ProcessCache({
    procRoot,
    bootTimeUs,
    maxArgs: 256,
    maxEntries: config.context.maxProcesses,
    exitGraceMs: config.context.exitGraceMs,
    userNames: new UserNames(),
  });
  cache.seed();
  return cache;
}
