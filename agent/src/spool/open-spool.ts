import { join } from "node:path";
import type { Logger } from "@vigil/common";
import type { AgentConfig } from "../config";
import { DiskSpool } from "./disk-spool";
import { MemorySpool } from "./memory-spool";
import type { BatchSpool } from "./types";

/** The spool the configuration asks for: on disk (default) under spool.dir, or in memory. */
export function openSpool(config: AgentConfig, logger: Logger): BatchSpool {
  const { spool } = config;
  if (spool.mode === "memory") {
    // Microseconds at start: a restarted agent never reuses a sequence the server may still hold.
    return new MemorySpool(config.transport.maxPendingBatches, Date.now() * 1000);
  }
  return new DiskSpool({
    dir: spoolDir(config),
    maxBytes: spool.maxBytes,
    segmentBytes: spool.segmentBytes,
    fsync: spool.fsync,
    fsyncIntervalMs: spool.fsyncIntervalMs,
    logger,
  });
}

export function spoolDir(config: AgentConfig): string {
  return config.spool.dir ?? join(config.stateDir, "spool");
}
