import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { afterAll, describe, expect, it } from "@jest/globals";
import { waitFor } from "../bus/bus-contract";
import { createMemoryBus, type MemoryBus } from "../bus/memory-bus";
import { isVigilError } from "../errors";
import { silentLogger } from "../observability/logger";
import { runKvContract } from "./kv-contract";
import { SqliteKvStore } from "./sqlite-kv-store";
import type { KvBucketSpec, KvEntry } from "./types";

// The KV contract on the in-process bus with its buckets in a SQLite file, and
// what only a file gives: everything survives closing and reopening it.

const dir = mkdtempSync(join(tmpdir(), "sqlite-kv-test-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// Every contract case opens a new bus on the same file (bucket names are unique per case).
runKvContract("sqlite", async (logger) => createMemoryBus({ logger, kvPath: join(dir, "contract.db") }));

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const text = (entry: KvEntry | undefined) => (entry ? decoder.decode(entry.value) : undefined);
let files = 0;
const newPath = () => join(dir, `persist-${++files}.db`);
const spec = (overrides: Partial<KvBucketSpec> = {}): KvBucketSpec => ({
  name: "persist",
  history: 5,
  ttlMs: 0,
  maxValueBytes: 1024,
  ...overrides,
});

async function withBus<T>(path: string, work: (bus: MemoryBus) => Promise<T>): Promise<T> {
  const bus = createMemoryBus({ logger: silentLogger(), kvPath: path });
  try {
    return await work(bus);
  } finally {
    await bus.close();
  }
}

function rowsIn(path: string, bucket: string): number {
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    return (db.prepare("SELECT COUNT(*) AS n FROM kv_entries WHERE bucket = ?").get(bucket) as { n: number })
      .n;
  } finally {
    db.close();
  }
}

describe("kv - sqlite, reopening the file", () => {
  it("values, revisions, tombstones and history are what they were; new revisions continue above them", async () => {
    const path = newPath();
    const before = await withBus(path, async (bus) => {
      const kv = await bus.openKv(spec());
      await kv.put("rules.a", encoder.encode("a1"));
      await kv.put("rules.a", encoder.encode("a2"));
      await kv.put("rules.b", encoder.encode("b1"));
      await kv.put("gone", encoder.encode("x"));
      await kv.delete("gone");
      return {
        a: await kv.get("rules.a"),
        b: await kv.get("rules.b"),
        historyA: await kv.history("rules.a"),
        historyGone: await kv.history("gone"),
      };
    });
    await withBus(path, async (bus) => {
      const kv = await bus.openKv(spec());
      expect(await kv.get("rules.a")).toEqual(before.a);
      expect(await kv.get("rules.b")).toEqual(before.b);
      expect(await kv.get("gone")).toBeUndefined();
      expect(await kv.keys()).toEqual(["rules.a", "rules.b"]);
      expect(await kv.history("rules.a")).toEqual(before.historyA);
      expect((await kv.history("gone")).map((e) => e.operation)).toEqual(["put", "delete"]);
      expect(await kv.history("gone")).toEqual(before.historyGone);
      // Compare-and-set against the revision read before the restart still holds.
      const next = await kv.update("rules.a", encoder.encode("a3"), before.a?.revision as number);
      expect(next).toBeGreaterThan(before.historyGone.at(-1)?.revision as number);
      const seen: string[] = [];
      const watch = await kv.watch({ key: "rules.*", initialValues: true }, (e) =>
        seen.push(`${e.key}=${decoder.decode(e.value)}`),
      );
      expect(seen).toEqual(["rules.b=b1", "rules.a=a3"]);
      watch.stop();
    });
  });

  it("buckets of one file are separate: same keys, own revisions", async () => {
    const path = newPath();
    await withBus(path, async (bus) => {
      const one = await bus.openKv(spec({ name: "one" }));
      const two = await bus.openKv(spec({ name: "two" }));
      expect(await one.put("k", encoder.encode("in one"))).toBe(1);
      expect(await two.put("k", encoder.encode("in two"))).toBe(1);
      await one.put("only-one", encoder.encode("x"));
    });
    await withBus(path, async (bus) => {
      const one = await bus.openKv(spec({ name: "one" }));
      const two = await bus.openKv(spec({ name: "two" }));
      expect(text(await one.get("k"))).toBe("in one");
      expect(text(await two.get("k"))).toBe("in two");
      expect(await two.keys()).toEqual(["k"]);
      expect(await two.put("k", encoder.encode("again"))).toBe(2);
    });
  });

  it("revisions never go back, even after every entry of the bucket expired and was purged", async () => {
    const path = newPath();
    const last = await withBus(path, async (bus) => {
      const kv = await bus.openKv(spec({ ttlMs: 60_000 }));
      await kv.put("a", encoder.encode("1"));
      return kv.put("a", encoder.encode("2"));
    });
    await new Promise((resolve) => setTimeout(resolve, 5));
    await withBus(path, async (bus) => {
      // Re-declared with a TTL the entries are past: they are gone, the revision counter is not.
      await bus.openKv(spec({ ttlMs: 1 }));
      expect(rowsIn(path, "persist")).toBe(0);
      const kv = await bus.openKv(spec({ ttlMs: 60_000 }));
      expect(await kv.put("a", encoder.encode("3"))).toBe(last + 1);
    });
  });

  it("ttl - an entry's age counts from its write, across a reopen: present within the TTL, gone and purged after it", async () => {
    const path = newPath();
    const written = await withBus(path, async (bus) => {
      const kv = await bus.openKv(spec({ ttlMs: 3_600_000 }));
      await kv.put("lease", encoder.encode("held"));
      return (await kv.get("lease"))?.createdMs as number;
    });
    await withBus(path, async (bus) => {
      const kv = await bus.openKv(spec({ ttlMs: 3_600_000 }));
      expect(await kv.get("lease")).toMatchObject({ createdMs: written });
      expect(text(await kv.get("lease"))).toBe("held");
    });
    // Past the (shortened) TTL measured from the original write, not from the reopen.
    while (Date.now() <= written + 20) await new Promise((resolve) => setTimeout(resolve, 5));
    await withBus(path, async (bus) => {
      const kv = await bus.openKv(spec({ ttlMs: 20 }));
      expect(await kv.get("lease")).toBeUndefined();
      expect(await kv.keys()).toEqual([]);
      expect(await kv.history("lease")).toEqual([]);
      expect(rowsIn(path, "persist")).toBe(0);
    });
  });

  it("ttl - the periodic purge deletes expired entries from the file while it stays open", async () => {
    const path = newPath();
    const store = new SqliteKvStore({ path, logger: silentLogger(), purgeIntervalMs: 50 });
    try {
      const kv = store.openBucket(spec({ ttlMs: 1000 }));
      await kv.put("short", encoder.encode("1"));
      await kv.put("short", encoder.encode("2"));
      expect(rowsIn(path, "persist")).toBe(2);
      await waitFor("the purge", () => rowsIn(path, "persist") === 0, 10_000);
      expect(await kv.get("short")).toBeUndefined();
    } finally {
      store.close();
    }
  });

  it("history - a bucket re-declared with a smaller history keeps only the newest revisions of each key", async () => {
    const path = newPath();
    await withBus(path, async (bus) => {
      const kv = await bus.openKv(spec({ history: 5 }));
      for (let i = 1; i <= 5; i++) await kv.put("h", encoder.encode(`v${i}`));
      await kv.put("other", encoder.encode("o1"));
    });
    await withBus(path, async (bus) => {
      const kv = await bus.openKv(spec({ history: 2 }));
      expect((await kv.history("h")).map((e) => decoder.decode(e.value))).toEqual(["v4", "v5"]);
      expect((await kv.history("other")).map((e) => decoder.decode(e.value))).toEqual(["o1"]);
      expect(rowsIn(path, "persist")).toBe(3);
    });
  });

  it("two buses on one file see each other's committed writes and lose compare-and-set races to them", async () => {
    const path = newPath();
    const a = createMemoryBus({ logger: silentLogger(), kvPath: path });
    const b = createMemoryBus({ logger: silentLogger(), kvPath: path });
    try {
      const kvA = await a.openKv(spec());
      const kvB = await b.openKv(spec());
      const revision = await kvA.create("lock", encoder.encode("a"));
      const lost = await kvB.create("lock", encoder.encode("b")).catch((e: unknown) => e);
      expect(isVigilError(lost, "VIGIL_ERR_KV_CONFLICT")).toBe(true);
      expect(await kvB.update("lock", encoder.encode("b"), revision)).toBe(revision + 1);
      expect(text(await kvA.get("lock"))).toBe("b");
    } finally {
      await a.close();
      await b.close();
    }
  });
});

describe("kv - sqlite, unusable files", () => {
  it("a file that is not a database is refused naming the path", () => {
    const path = join(dir, "corrupt.db");
    writeFileSync(path, Buffer.alloc(8192, 0x5a));
    let error: unknown;
    try {
      createMemoryBus({ logger: silentLogger(), kvPath: path });
    } catch (e) {
      error = e;
    }
    expect(isVigilError(error, "VIGIL_ERR_BUS_UNAVAILABLE")).toBe(true);
    expect((error as Error).message).toContain(`control-plane KV store ${path}`);
    expect((error as Error).message).toMatch(/not a database/);
  });

  it("a path in a missing directory, or a directory, is refused naming the path", () => {
    for (const path of [join(dir, "no-such-dir", "kv.db"), dir]) {
      expect(() => createMemoryBus({ logger: silentLogger(), kvPath: path })).toThrow(
        `cannot open the control-plane KV store ${path}`,
      );
    }
  });

  it("the file is created private (0600): it holds the hashed secrets of tokens and agents", async () => {
    const path = newPath();
    await withBus(path, async (bus) => {
      await bus.openKv(spec());
    });
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });
});
