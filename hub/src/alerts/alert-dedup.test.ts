import {
  type Alert,
  type Bus,
  connectNatsBus,
  type EcsDocument,
  type KvBucket,
  silentLogger,
} from "@vigil/common";
import { commandLineRule } from "../../../test/fixtures/process-rule";
import { type NatsServerHandle, startNatsServer } from "../../../test/harness/nats-server";
import { compileRule } from "../sigma";
import { AlertDeduplicator, alertDedupBucket } from "./alert-dedup";
import { type AlertingRule, buildAlert } from "./build-alert";

// Dedup and suppression state lives in NATS KV: two connections stand for two
// hub instances, and a restarted hub (a new connection) sees the same windows.

const RULE = commandLineRule("/etc/shadow", {
  id: "0b6a3c1e-2f44-4a7e-9d51-8d2c1f0e6a01",
  title: "Shadow read",
});

const BASE_MS = Date.UTC(2026, 10, 23, 12, 0, 0);
const WINDOW_MS = 60_000;
const defaults = { fields: ["host.id", "process.command_line"], windowMs: WINDOW_MS };

function event(
  index: number,
  options: { offsetMs?: number; host?: string; user?: string; cmd?: string } = {},
) {
  return {
    "@timestamp": new Date(BASE_MS + (options.offsetMs ?? index)).toISOString(),
    event: { id: `agent-1:1:${index}`, kind: "event", category: ["process"], type: ["start"] },
    host: { id: options.host ?? "h1", name: options.host ?? "h1" },
    user: { name: options.user ?? "alice" },
    process: { pid: 100 + index, executable: "/usr/bin/cat", command_line: options.cmd ?? "cat /etc/shadow" },
  } as EcsDocument;
}

const compiled = compileRule(RULE, "plain.yml");
/** As SigmaRuleEvaluator hands rules to buildAlert. */
const plainRule: AlertingRule = { ...compiled, name: compiled.title, version: "1" };
const alertFor = (doc: EcsDocument, rule = plainRule): Alert => buildAlert(rule, doc, new Date(BASE_MS));
const countOf = (alert: Alert) => ((alert.document.vigil as EcsDocument).alert as EcsDocument).count;

describe("alert dedup and suppression (real NATS KV)", () => {
  let server: NatsServerHandle;
  const buses: Bus[] = [];
  let bucketIndex = 0;

  beforeAll(async () => {
    server = await startNatsServer();
  });
  afterAll(async () => {
    await server.stop();
  });
  afterEach(async () => {
    for (const bus of buses.splice(0)) await bus.close();
  });

  /** A hub's view of the bucket: its own NATS connection. */
  async function hubKv(name: string): Promise<KvBucket> {
    const bus = await connectNatsBus({ servers: [server.url], name, logger: silentLogger() });
    buses.push(bus);
    return bus.openKv({ ...alertDedupBucket(10 * 60_000), name: `alerts-dedup-test-${bucketIndex}` });
  }

  beforeEach(() => {
    bucketIndex++;
  });

  test("the same rule and key within the window: one alert whose count grows; a new key or a later window alerts", async () => {
    const dedup = new AlertDeduplicator({ kv: await hubKv("hub-a"), defaults });
    const first = await dedup.admit([
      alertFor(event(0)),
      alertFor(event(1)),
      alertFor(event(2, { host: "h2" })),
    ]);
    expect(first.fresh.map((alert) => alert.id)).toEqual([
      alertFor(event(0)).id,
      alertFor(event(2, { host: "h2" })).id,
    ]);
    // Folded within the batch: the fresh alert is written with its count.
    expect(first.fresh.map(countOf)).toEqual([2, 1]);
    expect(first.counts).toEqual([]);
    expect(first.folded).toBe(1);

    const second = await dedup.admit([alertFor(event(3, { offsetMs: 30_000 }))]);
    expect(second.fresh).toEqual([]);
    expect(second.counts).toEqual([
      { alertId: alertFor(event(0)).id, count: 3, lastSeen: new Date(BASE_MS + 30_000).toISOString() },
    ]);

    const later = await dedup.admit([alertFor(event(4, { offsetMs: WINDOW_MS + 1 }))]);
    expect(later.fresh.map((alert) => alert.id)).toEqual([alertFor(event(4)).id]);
    expect(later.fresh.map(countOf)).toEqual([1]);
  });

  test("a redelivered batch neither counts twice nor loses its opening alert", async () => {
    const dedup = new AlertDeduplicator({ kv: await hubKv("hub-a"), defaults });
    const batch = () => [alertFor(event(0)), alertFor(event(1))];
    const first = await dedup.admit(batch());
    const again = await dedup.admit(batch());
    // The opener is produced again (stores keep it once, by id); the duplicate is not counted again.
    expect(again.fresh.map((alert) => alert.id)).toEqual(first.fresh.map((alert) => alert.id));
    expect(again.fresh.map(countOf)).toEqual([2]);
    expect(again.counts).toEqual([expect.objectContaining({ alertId: first.fresh[0]?.id, count: 2 })]);
  });

  test("two hub instances counting the same key at once: one alert, every match counted once", async () => {
    const hubA = new AlertDeduplicator({ kv: await hubKv("hub-a"), defaults });
    const hubB = new AlertDeduplicator({ kv: await hubKv("hub-b"), defaults });
    // Interleaved: even events to A, odd to B, each one batch at a time, all at once.
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, index) =>
        (index % 2 === 0 ? hubA : hubB).admit([alertFor(event(index))]),
      ),
    );
    const fresh = results.flatMap((result) => result.fresh);
    expect(fresh.length).toBe(1);
    const highest = Math.max(...results.flatMap((result) => result.counts.map((update) => update.count)));
    expect(highest).toBe(40);
    expect(results.reduce((sum, result) => sum + result.folded, 0)).toBe(39);
  });

  test("the state survives a hub restart: a new connection continues the window", async () => {
    const before = new AlertDeduplicator({ kv: await hubKv("hub-before") });
    // The compiled shape of `vigil.suppress: { window: 5m, by: [User] }` (hub/src/sigma/types.ts).
    const rule = {
      ...plainRule,
      suppress: {
        window: "5m",
        windowMs: 300_000,
        by: ["User"],
        paths: ["user.name"],
        key: (doc: EcsDocument) => JSON.stringify([(doc.user as EcsDocument | undefined)?.name ?? null]),
      },
    };
    const opened = await before.admit([alertFor(event(0), rule)]);
    expect(opened.fresh.length).toBe(1);
    await buses.splice(0)[0]?.close();

    const after = new AlertDeduplicator({ kv: await hubKv("hub-after") });
    // Suppressed by the rule's key (User) even with another command line and host.
    const next = await after.admit([
      alertFor(event(1, { offsetMs: 120_000, host: "h9", cmd: "less /etc/shadow" }), rule),
    ]);
    expect(next.fresh).toEqual([]);
    expect(next.counts).toEqual([expect.objectContaining({ alertId: opened.fresh[0]?.id, count: 2 })]);
    const otherUser = await after.admit([alertFor(event(2, { user: "bob" }), rule)]);
    expect(otherUser.fresh.length).toBe(1);
  });

  test("without a rule suppression or a hub policy every match alerts", async () => {
    const dedup = new AlertDeduplicator({ kv: await hubKv("hub-a") });
    const result = await dedup.admit([alertFor(event(0)), alertFor(event(1))]);
    expect(result.fresh.length).toBe(2);
    expect(result.fresh.map(countOf)).toEqual([1, 1]);
  });
});
