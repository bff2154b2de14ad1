// The agent's process context (README "Context on every event"): config
// defaults and the counters it reports.

/** context.maxProcesses: processes remembered (LRU). */
export const DEFAULT_CONTEXT_MAX_PROCESSES = 65_536;
/** context.exitGraceMs: an exited process stays resolvable this long. */
export const DEFAULT_CONTEXT_EXIT_GRACE_MS = 30_000;
/** context.hashMaxBytes: larger executables are not hashed (counted hashSkippedTooLarge). */
export const DEFAULT_CONTEXT_HASH_MAX_BYTES = 64 * 1024 * 1024;
/** context.hashWaitMs: an exec of a file not hashed yet waits this long at most for its hash. */
export const DEFAULT_CONTEXT_HASH_WAIT_MS = 50;
/** Files whose hash is remembered (by device + inode + mtime + size). */
export const DEFAULT_CONTEXT_HASH_CACHE_ENTRIES = 8192;

export type HashOutcome =
  | { kind: "hashed"; sha256: string }
  | { kind: "skipped-too-large"; size: number }
  | { kind: "error"; error: string };

export interface HasherCounters {
  hashed: number;
  hashCacheHits: number;
  hashSkippedTooLarge: number;
  hashErrors: number;
  /** Requests refused because too many files were waiting to be hashed. */
  hashQueueFull: number;
}
