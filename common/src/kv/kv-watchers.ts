import { subjectMatches } from "../bus/subject-match";
import type { Logger } from "../observability/logger";
import type { KvEntry, KvWatch } from "./types";

// Watcher fan-out for the in-process KV implementations (memory and SQLite):
// what a watch sees does not depend on where the entries are stored. Live
// changes are delivered asynchronously and in revision order, never on the
// writer's stack; a watcher that throws is logged and keeps its place.

interface Watcher {
  pattern: string;
  /** With initial values: keys delivered as present (a tombstone of any other key is not news). */
  present: Set<string> | undefined;
  onEntry: (entry: KvEntry) => void;
  queue: KvEntry[];
  scheduled: boolean;
  stopped: boolean;
}

export class KvWatchers {
  private readonly watchers = new Set<Watcher>();

  constructor(
    private readonly bucket: string,
    private readonly logger: Logger,
  ) {}

  /**
   * Starts a watch. `initial` (the current live entries, or undefined without
   * initial values) is delivered now, in revision order, before this returns;
   * the caller must not yield between reading them and calling this, so no
   * change falls between the two.
   */
  add(pattern: string, initial: KvEntry[] | undefined, onEntry: (entry: KvEntry) => void): KvWatch {
    const watcher: Watcher = {
      pattern,
      present: initial ? new Set() : undefined,
      onEntry,
      queue: [],
      scheduled: false,
      stopped: false,
    };
    if (initial) {
      const ordered = initial
        .filter((entry) => entry.operation === "put" && subjectMatches(pattern, entry.key))
        .sort((a, b) => a.revision - b.revision);
      for (const entry of ordered) this.deliver(watcher, entry);
    }
    this.watchers.add(watcher);
    return {
      stop: () => {
        watcher.stopped = true;
        this.watchers.delete(watcher);
      },
    };
  }

  /** Queues a committed change for every watcher whose pattern matches its key. */
  notify(entry: KvEntry): void {
    for (const watcher of this.watchers) {
      if (subjectMatches(watcher.pattern, entry.key)) this.enqueue(watcher, entry);
    }
  }

  /** Ends every watch. */
  close(): void {
    for (const watcher of this.watchers) watcher.stopped = true;
    this.watchers.clear();
  }

  private enqueue(watcher: Watcher, entry: KvEntry): void {
    watcher.queue.push(entry);
    if (watcher.scheduled) return;
    watcher.scheduled = true;
    setImmediate(() => {
      watcher.scheduled = false;
      const batch = watcher.queue.splice(0);
      for (const next of batch) {
        if (watcher.stopped) return;
        this.deliver(watcher, next);
      }
    });
  }

  private deliver(watcher: Watcher, entry: KvEntry): void {
    if (watcher.present) {
      if (entry.operation === "put") watcher.present.add(entry.key);
      else if (!watcher.present.delete(entry.key)) return;
    }
    try {
      // A copy each: one watcher cannot change what another (or the store) holds.
      watcher.onEntry(copyEntry(entry));
    } catch (error) {
      this.logger.warn({ err: error, bucket: this.bucket, key: entry.key }, "kv watcher threw");
    }
  }
}

export function copyEntry(entry: KvEntry): KvEntry {
  return { ...entry, value: entry.value.slice() };
}
