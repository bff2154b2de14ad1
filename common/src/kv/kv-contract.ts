import { afterEach, beforeEach, describe, expect, it } from "@jest/globals";
import { capturingLogger, sleep, waitFor } from "../bus/bus-contract";
import type { Bus } from "../bus/types";
import { isVigilError } from "../errors";
import type { Logger } from "../observability/logger";
import type { KvBucket, KvBucketSpec, KvEntry } from "./types";

// One behavioural contract for both KV implementations (kv.test.ts runs it on
// the in-process bus and on a real nats-server): what the registry, rulesets,
// tokens and tasks rely on belongs here, so embedded and distributed agree.

export type KvBusFactory = (logger: Logger) => Promise<Bus>;

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const text = (entry: KvEntry | undefined) => (entry ? decoder.decode(entry.value) : undefined);
let unique = 0;

export function runKvContract(name: string, factory: KvBusFactory): void {
  describe(`kv contract - ${name}`, () => {
    let bus: Bus;
    let bucketName: string;

    beforeEach(async () => {
      bus = await factory(capturingLogger().logger);
      unique++;
      bucketName = `contract-${process.pid}-${unique}-${Math.floor(Math.random() * 1e6)}`;
    });

    afterEach(async () => {
      await bus.close();
    });

    const open = (overrides: Partial<KvBucketSpec> = {}): Promise<KvBucket> =>
      bus.openKv({ name: bucketName, history: 5, ttlMs: 0, maxValueBytes: 1024, ...overrides });

    const errorOf = (promise: Promise<unknown>) =>
      promise.then(
        () => undefined,
        (e: unknown) => e,
      );

    it("put/get - returns the value with its revision; an absent key is undefined", async () => {
      const kv = await open();
      expect(kv.name).toBe(bucketName);
      const before = Date.now();
      const revision = await kv.put("agents.a1", encoder.encode("one"));
      const entry = await kv.get("agents.a1");
      expect(entry).toMatchObject({ key: "agents.a1", revision, operation: "put" });
      expect(text(entry)).toBe("one");
      expect(entry?.createdMs).toBeGreaterThanOrEqual(before - 1000);
      expect(await kv.get("agents.a2")).toBeUndefined();
      const second = await kv.put("agents.a1", encoder.encode("two"));
      expect(second).toBeGreaterThan(revision);
      expect(text(await kv.get("agents.a1"))).toBe("two");
    });

    it("put - revisions increase strictly across keys of the bucket", async () => {
      const kv = await open();
      const revisions: number[] = [];
      for (const key of ["a", "b", "a", "c", "b"]) revisions.push(await kv.put(key, encoder.encode(key)));
      for (let i = 1; i < revisions.length; i++) expect(revisions[i]).toBeGreaterThan(revisions[i - 1]);
    });

    it("create - writes an absent key, conflicts on a live one, succeeds again after a delete", async () => {
      const kv = await open();
      const first = await kv.create("lock", encoder.encode("server-1"));
      const error = await errorOf(kv.create("lock", encoder.encode("server-2")));
      expect(isVigilError(error, "VIGIL_ERR_KV_CONFLICT")).toBe(true);
      expect((error as Error).message).toContain(bucketName);
      expect((error as Error).message).toContain('"lock"');
      expect(text(await kv.get("lock"))).toBe("server-1");
      await kv.delete("lock");
      const again = await kv.create("lock", encoder.encode("server-2"));
      expect(again).toBeGreaterThan(first);
      expect(text(await kv.get("lock"))).toBe("server-2");
    });

    it("update - compare-and-set: the current revision wins, a stale one conflicts and changes nothing", async () => {
      const kv = await open();
      const r1 = await kv.put("config", encoder.encode("v1"));
      const r2 = await kv.update("config", encoder.encode("v2"), r1);
      expect(r2).toBeGreaterThan(r1);
      const error = await errorOf(kv.update("config", encoder.encode("lost"), r1));
      expect(isVigilError(error, "VIGIL_ERR_KV_CONFLICT")).toBe(true);
      expect((error as Error).message).toContain('"config"');
      expect(await kv.get("config")).toMatchObject({ revision: r2 });
      expect(text(await kv.get("config"))).toBe("v2");
      const absent = await errorOf(kv.update("missing", encoder.encode("x"), r2));
      expect(isVigilError(absent, "VIGIL_ERR_KV_CONFLICT")).toBe(true);
    });

    it("delete - leaves a tombstone in history; get and keys no longer see the key", async () => {
      const kv = await open();
      const r1 = await kv.put("t.one", encoder.encode("1"));
      await kv.put("t.two", encoder.encode("2"));
      await kv.delete("t.one");
      expect(await kv.get("t.one")).toBeUndefined();
      expect(await kv.keys()).toEqual(["t.two"]);
      const history = await kv.history("t.one");
      expect(history.map((e) => e.operation)).toEqual(["put", "delete"]);
      expect(history[0].revision).toBe(r1);
      expect(history[1].revision).toBeGreaterThan(r1);
    });

    it("delete - with a stale expectedRevision conflicts and keeps the value; with the current one deletes", async () => {
      const kv = await open();
      const r1 = await kv.put("k", encoder.encode("1"));
      const r2 = await kv.put("k", encoder.encode("2"));
      const error = await errorOf(kv.delete("k", r1));
      expect(isVigilError(error, "VIGIL_ERR_KV_CONFLICT")).toBe(true);
      expect(text(await kv.get("k"))).toBe("2");
      await kv.delete("k", r2);
      expect(await kv.get("k")).toBeUndefined();
    });

    it("keys - live keys matching a pattern, sorted", async () => {
      const kv = await open();
      for (const key of ["agents.b", "agents.a", "rules.x.1", "rules.y.2", "tokens.t"]) {
        await kv.put(key, encoder.encode("v"));
      }
      expect(await kv.keys()).toEqual(["agents.a", "agents.b", "rules.x.1", "rules.y.2", "tokens.t"]);
      expect(await kv.keys("agents.*")).toEqual(["agents.a", "agents.b"]);
      expect(await kv.keys("rules.>")).toEqual(["rules.x.1", "rules.y.2"]);
      expect(await kv.keys("rules.*.2")).toEqual(["rules.y.2"]);
      expect(await kv.keys("nothing.>")).toEqual([]);
    });

    it("history - oldest first, bounded by the bucket's history", async () => {
      const kv = await open({ history: 3 });
      const revisions: number[] = [];
      for (let i = 1; i <= 5; i++) revisions.push(await kv.put("h", encoder.encode(`v${i}`)));
      const history = await kv.history("h");
      expect(history.map((e) => decoder.decode(e.value))).toEqual(["v3", "v4", "v5"]);
      expect(history.map((e) => e.revision)).toEqual(revisions.slice(2));
      expect(await kv.history("never")).toEqual([]);
    });

    it("watch - initial values first, then live puts and deletes in revision order; stop() ends it", async () => {
      const kv = await open();
      await kv.put("w.a", encoder.encode("a1"));
      await kv.put("w.b", encoder.encode("b1"));
      await kv.put("w.gone", encoder.encode("x"));
      await kv.delete("w.gone");
      await kv.put("other.c", encoder.encode("c1"));
      const seen: KvEntry[] = [];
      const watch = await kv.watch({ key: "w.*", initialValues: true }, (e) => seen.push(e));
      await waitFor("two initial values", () => seen.length >= 2);
      await kv.put("w.a", encoder.encode("a2"));
      await kv.put("other.c", encoder.encode("c2"));
      await kv.delete("w.b");
      await kv.put("w.new", encoder.encode("n1"));
      await waitFor("five entries", () => seen.length >= 5);
      expect(seen.map((e) => `${e.operation}:${e.key}:${decoder.decode(e.value)}`)).toEqual([
        "put:w.a:a1",
        "put:w.b:b1",
        "put:w.a:a2",
        "delete:w.b:",
        "put:w.new:n1",
      ]);
      for (let i = 1; i < seen.length; i++) expect(seen[i].revision).toBeGreaterThan(seen[i - 1].revision);
      watch.stop();
      await kv.put("w.a", encoder.encode("after-stop"));
      await sleep(300);
      expect(seen).toHaveLength(5);
    });

    it("watch - with initialValues, every current value is delivered, in revision order, before watch() resolves", async () => {
      const kv = await open();
      await kv.put("v.b", encoder.encode("b1"));
      await kv.put("v.a", encoder.encode("a1"));
      await kv.put("v.c", encoder.encode("c1"));
      await kv.delete("v.c");
      const seen: string[] = [];
      const watch = await kv.watch({ key: "v.*", initialValues: true }, (e) =>
        seen.push(`${e.key}=${decoder.decode(e.value)}`),
      );
      expect(seen).toEqual(["v.b=b1", "v.a=a1"]);
      await kv.put("v.a", encoder.encode("a2"));
      await waitFor("the live change", () => seen.length >= 3);
      await sleep(200);
      // Each value once: the watch's own initial values do not deliver them again.
      expect(seen).toEqual(["v.b=b1", "v.a=a1", "v.a=a2"]);
      watch.stop();
    });

    it("watch - without initialValues only changes made after it started are delivered", async () => {
      const kv = await open();
      await kv.put("old", encoder.encode("before"));
      const seen: string[] = [];
      const watch = await kv.watch({ initialValues: false }, (e) =>
        seen.push(`${e.key}=${decoder.decode(e.value)}`),
      );
      await kv.put("new", encoder.encode("after"));
      await waitFor("one change", () => seen.length >= 1);
      await sleep(200);
      expect(seen).toEqual(["new=after"]);
      watch.stop();
    });

    it("ttl - an entry expires ttlMs after its last write", async () => {
      const kv = await open({ ttlMs: 1000 });
      await kv.put("lease", encoder.encode("held"));
      expect(text(await kv.get("lease"))).toBe("held");
      const written = Date.now();
      let expiredAfter = 0;
      await waitFor(
        "the entry to expire",
        () => {
          void kv.get("lease").then((e) => {
            if (e === undefined && expiredAfter === 0) expiredAfter = Date.now() - written;
          });
          return expiredAfter > 0;
        },
        15_000,
      );
      // Expiry never comes early.
      expect(expiredAfter).toBeGreaterThanOrEqual(900);
      expect(await kv.keys()).toEqual([]);
    });

    it("maxValueBytes - a larger value fails with VIGIL_ERR_KV_VALUE_TOO_LARGE naming bucket and key; one at the limit is stored", async () => {
      const kv = await open({ maxValueBytes: 1024 });
      for (const write of [
        () => kv.put("big", new Uint8Array(1025)),
        () => kv.create("big", new Uint8Array(1025)),
      ]) {
        const error = await errorOf(write());
        expect(isVigilError(error, "VIGIL_ERR_KV_VALUE_TOO_LARGE")).toBe(true);
        expect((error as Error).message).toContain(bucketName);
        expect((error as Error).message).toContain('"big"');
      }
      expect(await kv.get("big")).toBeUndefined();
      const revision = await kv.put("fits", new Uint8Array(1024).fill(7));
      // A CAS write carries a header; the value limit still holds exactly.
      await kv.update("fits", new Uint8Array(1024).fill(8), revision);
      expect((await kv.get("fits"))?.value).toEqual(new Uint8Array(1024).fill(8));
    });

    it("names - invalid bucket names, keys and patterns are refused naming what was wrong", async () => {
      await expect(bus.openKv({ name: "bad name", history: 1, ttlMs: 0, maxValueBytes: 10 })).rejects.toThrow(
        /bad name/,
      );
      await expect(
        bus.openKv({ name: bucketName, history: 65, ttlMs: 0, maxValueBytes: 10 }),
      ).rejects.toThrow(/history/);
      const kv = await open();
      await expect(kv.put("has space", encoder.encode("x"))).rejects.toThrow(/invalid key "has space"/);
      await expect(kv.put("a..b", encoder.encode("x"))).rejects.toThrow(/invalid key/);
      await expect(kv.put("agents.*", encoder.encode("x"))).rejects.toThrow(/invalid key/);
      await expect(kv.keys("a.>.b")).rejects.toThrow(/invalid key pattern/);
    });

    it("closed bus - bucket operations reject with VIGIL_ERR_BUS_UNAVAILABLE naming the bucket", async () => {
      const kv = await open();
      await kv.put("k", encoder.encode("v"));
      await bus.close();
      for (const operation of [() => kv.get("k"), () => kv.put("k", encoder.encode("w")), () => kv.keys()]) {
        const error = await errorOf(operation());
        expect(isVigilError(error, "VIGIL_ERR_BUS_UNAVAILABLE")).toBe(true);
        expect((error as Error).message).toContain(bucketName);
      }
    });

    it("openKv - idempotent: a second open shares the data; a re-declared history applies", async () => {
      const first = await open({ history: 2 });
      await first.put("shared", encoder.encode("1"));
      const second = await open({ history: 4 });
      expect(text(await second.get("shared"))).toBe("1");
      for (let i = 2; i <= 5; i++) await second.put("shared", encoder.encode(String(i)));
      expect((await second.history("shared")).map((e) => decoder.decode(e.value))).toEqual([
        "2",
        "3",
        "4",
        "5",
      ]);
    });
  });
}
