// Shared control-plane state (fleet registry, rulesets, agent config, tasks,
// API tokens, windowed-rule state) lives in key-value buckets: NATS KV in
// distributed mode, an in-process implementation with the same behaviour in
// embedded mode. One contract suite runs against both, like the Bus.

export interface KvBucketSpec {
  /** Bucket name: [A-Za-z0-9_-]{1,64}, e.g. "vigil-agents". */
  name: string;
  /** Revisions kept per key (1..64); history() returns at most this many. */
  history: number;
  /** Entries expire this long after their last write (0 = never). */
  ttlMs: number;
  /** Largest value accepted; a bigger put fails with VIGIL_ERR_KV_VALUE_TOO_LARGE. */
  maxValueBytes: number;
}

export interface KvEntry {
  key: string;
  value: Uint8Array;
  /** Bucket-wide, strictly increasing; the compare-and-set token. */
  revision: number;
  /** When this revision was written (ms since epoch). */
  createdMs: number;
  /** "delete" entries are tombstones seen by watchers and history(). */
  operation: "put" | "delete";
}

export interface KvWatchOptions {
  /** Key or NATS-style pattern ("agents.*", "rules.>"); default every key. */
  key?: string;
  /**
   * Deliver the current value of every matching key first — all of them before
   * watch() resolves, so a caller holds the whole view when it starts serving —
   * then live changes.
   */
  initialValues: boolean;
}

export interface KvWatch {
  stop(): void;
}

export interface KvBucket {
  readonly name: string;
  /** Latest live value, undefined when absent, deleted or expired. */
  get(key: string): Promise<KvEntry | undefined>;
  /** Unconditional write; returns the new revision. */
  put(key: string, value: Uint8Array): Promise<number>;
  /** Write only if the key does not exist (or was deleted); else VIGIL_ERR_KV_CONFLICT. */
  create(key: string, value: Uint8Array): Promise<number>;
  /** Write only if the key's latest revision is `expectedRevision`; else VIGIL_ERR_KV_CONFLICT. */
  update(key: string, value: Uint8Array, expectedRevision: number): Promise<number>;
  /** Tombstone; with expectedRevision, only if that is still the latest (else VIGIL_ERR_KV_CONFLICT). */
  delete(key: string, expectedRevision?: number): Promise<void>;
  /** Live keys matching the pattern (default all), sorted. */
  keys(pattern?: string): Promise<string[]>;
  /** Revisions of one key, oldest first, including tombstones, bounded by spec.history. */
  history(key: string): Promise<KvEntry[]>;
  /** Calls `onEntry` for matching changes in revision order, until stop(). */
  watch(options: KvWatchOptions, onEntry: (entry: KvEntry) => void): Promise<KvWatch>;
}
