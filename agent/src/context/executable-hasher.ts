import { open } from "node:fs/promises";
import { sha256OfFile } from "./file-digest";
import { DEFAULT_CONTEXT_HASH_CACHE_ENTRIES, type HasherCounters, type HashOutcome } from "./types";

export interface ExecutableHasherOptions {
  /** Files larger than this are not read (context.hashMaxBytes). */
  maxBytes: number;
  /** Remembered results, keyed by device + inode + mtime + size. */
  cacheEntries?: number;
  /** Files hashed at once; the rest wait in a bounded queue. */
  concurrency?: number;
  maxQueued?: number;
}

/**
 * SHA-256 of executables, off the event path: reads are asynchronous and one
 * chunk at a time, at most `concurrency` files at once. A result is cached by
 * the file's identity (device, inode, mtime, size), so the same binary run a
 * thousand times is read once, and a binary replaced or rewritten in place is
 * hashed again. Files above maxBytes are skipped and counted, never read.
 */
export class ExecutableHasher {
  readonly counters: HasherCounters = {
    hashed: 0,
    hashCacheHits: 0,
    hashSkippedTooLarge: 0,
    hashErrors: 0,
    hashQueueFull: 0,
  };
  private readonly cache = new Map<string, HashOutcome>();
  private readonly cacheEntries: number;
  private readonly concurrency: number;
  private readonly maxQueued: number;
  private readonly waiting: Array<() => void> = [];
  private running = 0;

  constructor(private readonly options: ExecutableHasherOptions) {
    this.cacheEntries = options.cacheEntries ?? DEFAULT_CONTEXT_HASH_CACHE_ENTRIES;
    this.concurrency = options.concurrency ?? 2;
    this.maxQueued = options.maxQueued ?? 1024;
  }

  get queued(): number {
    return this.waiting.length;
  }

  /** The file's hash; resolves (never rejects) with what happened. */
  async hash(path: string): Promise<HashOutcome> {
    if (this.running >= this.concurrency) {
      if (this.waiting.length >= this.maxQueued) {
        this.counters.hashQueueFull++;
        return { kind: "error", error: "hash queue full" };
      }
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
    this.running++;
    try {
      return await this.hashNow(path);
    } finally {
      this.running--;
      this.waiting.shift()?.();
    }
  }

  private async hashNow(path: string): Promise<HashOutcome> {
    let handle: Awaited<ReturnType<typeof open>> | undefined;
    try {
      handle = await open(path, "r");
      const stat = await handle.stat({ bigint: true });
      const key = `${stat.dev}:${stat.ino}:${stat.mtimeNs}:${stat.size}`;
      const cached = this.cache.get(key);
      if (cached !== undefined) {
        this.counters.hashCacheHits++;
        this.cache.delete(key);
        this.cache.set(key, cached);
        return cached;
      }
      const size = Number(stat.size);
      let outcome: HashOutcome;
      const digest =
        size > this.options.maxBytes ? undefined : await sha256OfFile(handle, this.options.maxBytes);
      if (digest === undefined) {
        // Too large, or grew past the bound while it was read.
        this.counters.hashSkippedTooLarge++;
        outcome = { kind: "skipped-too-large", size };
      } else {
        outcome = { kind: "hashed", sha256: digest.sha256 };
        this.counters.hashed++;
      }
      this.remember(key, outcome);
      return outcome;
    } catch (error) {
      this.counters.hashErrors++;
      return { kind: "error", error: (error as Error).message };
    } finally {
      await handle?.close().catch(() => undefined);
    }
  }

  private remember(key: string, outcome: HashOutcome): void {
    this.cache.set(key, outcome);
    if (this.cache.size > this.cacheEntries) {
      const oldest = this.cache.keys().next().value;
      if (oldest !== undefined) this.cache.delete(oldest);
    }
  }
}
