import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { makeAlert } from "../../../test/doubles/alert-fixture";
import { ErrorCodes, isVigilError } from "../errors";
import { SqliteAlertStore } from "./sqlite-alert-store";
import type { Alert } from "./types";

describe("sqlite-alert-store", () => {
  let dir: string;
  let path: string;
  const open: SqliteAlertStore[] = [];

  function openStore(): SqliteAlertStore {
    const store = new SqliteAlertStore({ path });
    open.push(store);
    return store;
  }

  function idsOf(documents: Array<Record<string, unknown>>): string[] {
    return documents.map((document) => (document.vigil as { alert_id: string }).alert_id);
  }

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "vigil-alert-store-"));
    path = join(dir, "alerts.db");
  });

  afterEach(async () => {
    for (const store of open.splice(0)) await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test("sqlite-alert-store - creates an owner-only WAL database", async () => {
    const store = openStore();
    await store.write([makeAlert({ seed: 1 })]);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(statSync(`${path}-wal`).mode & 0o777).toBe(0o600);
  });

  test("sqlite-alert-store - a redelivered alert is stored once", async () => {
    const store = openStore();
    const batch = [makeAlert({ seed: 1 }), makeAlert({ seed: 2 })];
    await store.write(batch);
    await store.write(batch);
    await store.write([makeAlert({ seed: 2 }), makeAlert({ seed: 3 })]);
    const stats = await store.stats();
    expect(stats.total).toBe(3);
    expect(idsOf(await store.query({ limit: 10 }))).toEqual([3, 2, 1].map((seed) => makeAlert({ seed }).id));
  });

  test("sqlite-alert-store - queries by each filter, newest first", async () => {
    const store = openStore();
    const alerts: Alert[] = [
      makeAlert({ seed: 1, level: "low", ruleId: "r-a", hostName: "h1" }),
      makeAlert({ seed: 2, level: "medium", ruleId: "r-b", hostName: "h2" }),
      makeAlert({ seed: 3, level: "high", ruleId: "r-a", hostName: "h2" }),
      makeAlert({ seed: 4, level: "critical", ruleId: "r-c", hostName: "h1" }),
      makeAlert({ seed: 5, level: "informational", ruleId: "r-a", hostName: "h3" }),
    ];
    await store.write(alerts);
    const id = (index: number) => (alerts[index] as Alert).id;

    expect(idsOf(await store.query({ limit: 100 }))).toEqual([id(4), id(3), id(2), id(1), id(0)]);
    expect(idsOf(await store.query({ limit: 2 }))).toEqual([id(4), id(3)]);
    expect(idsOf(await store.query({ limit: 100, minLevel: "high" }))).toEqual([id(3), id(2)]);
    expect(idsOf(await store.query({ limit: 100, ruleId: "r-a" }))).toEqual([id(4), id(2), id(0)]);
    expect(idsOf(await store.query({ limit: 100, hostName: "h2" }))).toEqual([id(2), id(1)]);
    const sinceUs = (alerts[2] as Alert).timestampUs;
    expect(idsOf(await store.query({ limit: 100, sinceUs }))).toEqual([id(4), id(3)]);
    expect(
      idsOf(await store.query({ limit: 100, ruleId: "r-a", minLevel: "medium", hostName: "h2", sinceUs: 0 })),
    ).toEqual([id(2)]);
    expect(await store.query({ limit: 100, ruleId: "no-such-rule" })).toEqual([]);
    expect(await store.query({ limit: 0 })).toEqual([]);
  });

  test("sqlite-alert-store - returns the full document as written", async () => {
    const store = openStore();
    const alert = makeAlert({ seed: 7 });
    await store.write([alert]);
    expect(await store.query({ limit: 1 })).toEqual([alert.document]);
  });

  test("sqlite-alert-store - stats count by level and time range", async () => {
    const store = openStore();
    expect(await store.stats()).toEqual({
      total: 0,
      byLevel: { informational: 0, low: 0, medium: 0, high: 0, critical: 0 },
      oldestUs: null,
      newestUs: null,
    });
    const first = makeAlert({ seed: 1, level: "high" });
    const last = makeAlert({ seed: 9, level: "critical" });
    await store.write([first, makeAlert({ seed: 2, level: "high" }), last]);
    expect(await store.stats()).toEqual({
      total: 3,
      byLevel: { informational: 0, low: 0, medium: 0, high: 2, critical: 1 },
      oldestUs: first.timestampUs,
      newestUs: last.timestampUs,
    });
  });

  test("sqlite-alert-store - reopening keeps data and schema version", async () => {
    const first = openStore();
    await first.write([makeAlert({ seed: 1 }), makeAlert({ seed: 2 })]);
    await first.close();
    const second = openStore();
    expect((await second.stats()).total).toBe(2);
    await second.write([makeAlert({ seed: 2 }), makeAlert({ seed: 3 })]);
    expect((await second.stats()).total).toBe(3);
  });

  test("sqlite-alert-store - refuses a database from a newer Vigil", async () => {
    await openStore().close();
    const db = new DatabaseSync(path);
    db.exec("UPDATE schema_version SET version = 99");
    db.close();
    expect(() => new SqliteAlertStore({ path })).toThrow("schema version 99 is newer");
  });

  test("sqlite-alert-store - a concurrent reader sees the writer's data", async () => {
    const writer = openStore();
    const reader = openStore();
    expect(await reader.query({ limit: 10 })).toEqual([]);
    await writer.write([makeAlert({ seed: 1 })]);
    expect(idsOf(await reader.query({ limit: 10 }))).toEqual([makeAlert({ seed: 1 }).id]);
    await writer.write([makeAlert({ seed: 2 })]);
    expect((await reader.stats()).total).toBe(2);
  });

  test("sqlite-alert-store - a non-serialisable document fails the batch with a clear error", async () => {
    const store = openStore();
    const good = makeAlert({ seed: 1 });
    const bad = makeAlert({ seed: 2 });
    bad.document.vigil = { size: 10n };
    const error = await store.write([good, bad]).catch((caught: unknown) => caught);
    expect(isVigilError(error, ErrorCodes.SINK_WRITE)).toBe(true);
    expect((error as Error).message).toContain(`alert ${bad.id}`);
    expect((error as Error).message).toContain("JSON");
    // Nothing of the batch was stored: the caller can fix or drop it and retry.
    expect((await store.stats()).total).toBe(0);

    const circular = makeAlert({ seed: 3 });
    circular.document.self = circular.document;
    await expect(store.write([circular])).rejects.toThrow(`alert ${circular.id}`);
  });

  test("sqlite-alert-store - an unknown level is rejected naming the alert", async () => {
    const store = openStore();
    const alert = { ...makeAlert({ seed: 1 }), level: "severe" } as unknown as Alert;
    await expect(store.write([alert])).rejects.toThrow(`alert ${alert.id} level: unknown level "severe"`);
  });

  /** vigil.alert of the stored alert with this id, as the search returns it. */
  async function alertStateOf(store: SqliteAlertStore, id: string): Promise<unknown> {
    const found = (await store.search({ size: 100 })).alerts.find(
      (document) => (document.vigil as { alert_id: string }).alert_id === id,
    );
    if (found === undefined) throw new Error(`alert ${id} not found`);
    return (found.vigil as Record<string, unknown>).alert;
  }

  test("sqlite-alert-store - updateCounts raises a stored alert's count and last_seen, never lowers it", async () => {
    const store = openStore();
    const [first, second] = [makeAlert({ seed: 1 }), makeAlert({ seed: 2 })];
    await store.write([first, second]);
    await store.updateCounts([
      { alertId: first.id, count: 5, lastSeen: "2025-01-15T12:00:09.000Z" },
      { alertId: second.id, count: 2, lastSeen: "2025-01-15T12:00:04.000Z" },
    ]);
    // Redelivered (same count) and late (lower count, an older view): nothing changes.
    await store.updateCounts([{ alertId: first.id, count: 5, lastSeen: "2025-01-15T12:00:30.000Z" }]);
    await store.updateCounts([{ alertId: first.id, count: 3, lastSeen: "2025-01-15T12:00:40.000Z" }]);
    expect(await alertStateOf(store, first.id)).toEqual({ count: 5, last_seen: "2025-01-15T12:00:09.000Z" });
    expect(await alertStateOf(store, second.id)).toEqual({ count: 2, last_seen: "2025-01-15T12:00:04.000Z" });
    // The rest of the document is as written; no row added.
    const [newest] = (await store.search({ size: 1, ruleId: first.rule.id, untilUs: second.timestampUs }))
      .alerts;
    expect(newest?.process).toEqual(first.document.process);
    expect(newest?.message).toBe(first.document.message);
    expect((await store.stats()).total).toBe(2);
    // The count is in the database: a reopened store reads it.
    await store.close();
    expect(await alertStateOf(openStore(), first.id)).toMatchObject({ count: 5 });
  });

  test("sqlite-alert-store - updateCounts keeps what an alert's vigil.alert already holds", async () => {
    const store = openStore();
    const alert = makeAlert({ seed: 1 });
    (alert.document.vigil as Record<string, unknown>).alert = {
      level: "high",
      count: 2,
      last_seen: "2025-01-15T12:00:01.000Z",
      suppression: { key: '["alice"]', window_ms: 600_000 },
    };
    await store.write([alert]);
    await store.updateCounts([{ alertId: alert.id, count: 4, lastSeen: "2025-01-15T12:00:03.000Z" }]);
    expect(await alertStateOf(store, alert.id)).toEqual({
      level: "high",
      count: 4,
      last_seen: "2025-01-15T12:00:03.000Z",
      suppression: { key: '["alice"]', window_ms: 600_000 },
    });
  });

  test("sqlite-alert-store - updateCounts for an alert not stored fails the whole call, transiently", async () => {
    const store = openStore();
    const stored = makeAlert({ seed: 1 });
    await store.write([stored]);
    const error = await store
      .updateCounts([
        { alertId: stored.id, count: 3, lastSeen: "2025-01-15T12:00:03.000Z" },
        { alertId: "not-written-yet", count: 2, lastSeen: "2025-01-15T12:00:02.000Z" },
      ])
      .catch((caught: unknown) => caught);
    expect(isVigilError(error, ErrorCodes.SINK_WRITE)).toBe(true);
    expect((error as Error).message).toContain("not-written-yet");
    expect((error as Error).message).toContain("retry later");
    // Rolled back: the stored alert's count did not move either, so the retry starts clean.
    expect(await alertStateOf(store, stored.id)).toBeUndefined();
  });

  test("sqlite-alert-store - updateCounts rejects a malformed update naming it, touching nothing", async () => {
    const store = openStore();
    const alert = makeAlert({ seed: 1 });
    await store.write([alert]);
    await expect(
      store.updateCounts([
        { alertId: alert.id, count: 2, lastSeen: "2025-01-15T12:00:03.000Z" },
        { alertId: alert.id, count: 0, lastSeen: "2025-01-15T12:00:03.000Z" },
      ]),
    ).rejects.toThrow(`alert count update for ${alert.id}: count 0 is not a positive integer`);
    await expect(
      store.updateCounts([{ alertId: alert.id, count: 2, lastSeen: "yesterday" }]),
    ).rejects.toThrow("lastSeen yesterday is not an ISO time");
    expect(await alertStateOf(store, alert.id)).toBeUndefined();
  });

  test("sqlite-alert-store - a closed store refuses writes", async () => {
    const store = openStore();
    await store.close();
    await expect(store.write([makeAlert({ seed: 1 })])).rejects.toThrow("is closed");
  });
});
