// Only one hub generates a given report: a lease per (level, period start) in
// a KV bucket shared by every hub, taken with create() and, once the holder's
// lease has run out (it died mid-generation), taken over with
// compare-and-set on the revision read. Losing either race means another
// instance is on it: the caller skips the report.

import { isVigilError, type KvBucket, type KvBucketSpec } from "@vigil/common";

export const REPORT_LOCK_BUCKET: KvBucketSpec = {
  name: "vigil-report-locks",
  history: 1,
  ttlMs: 24 * 3_600_000,
  maxValueBytes: 1024,
};

interface Lease {
  owner: string;
  untilMs: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export class ReportLock {
  constructor(
    private readonly kv: KvBucket,
    private readonly owner: string,
    private readonly leaseMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Runs `work` holding the lease on `key`; undefined (work not run) when another instance holds it. */
  async withLock<T>(key: string, work: () => Promise<T>): Promise<{ value: T } | undefined> {
    const revision = await this.acquire(key);
    if (revision === undefined) return undefined;
    try {
      return { value: await work() };
    } finally {
      await this.kv.delete(key, revision).catch(() => {
        // Taken over after the lease ran out: the new holder's entry stays.
      });
    }
  }

  private async acquire(key: string): Promise<number | undefined> {
    const lease = encoder.encode(JSON.stringify({ owner: this.owner, untilMs: this.now() + this.leaseMs }));
    try {
      return await this.kv.create(key, lease);
    } catch (error) {
      if (!isVigilError(error, "VIGIL_ERR_KV_CONFLICT")) throw error;
    }
    const held = await this.kv.get(key);
    if (held === undefined) return undefined; // released in between: next tick
    let until = 0;
    try {
      until = (JSON.parse(decoder.decode(held.value)) as Lease).untilMs;
    } catch {
      // An unreadable lease is treated as expired.
    }
    if (until > this.now()) return undefined;
    try {
      return await this.kv.update(key, lease, held.revision);
    } catch (error) {
      if (isVigilError(error, "VIGIL_ERR_KV_CONFLICT")) return undefined;
      throw error;
    }
  }
}

/** The lock key of a report period (every scope of it is generated together). */
export function reportLockKey(level: number, startMs: number): string {
  return `report.${level}.${startMs}`;
}
