import { type Bus, connectNatsBus, type KvBucket, silentLogger } from "@vigil/common";
import {
  decodeJson,
  encodeJson,
  RULESETS_BUCKET,
  type RulesetRule,
  readCurrentPointer,
  type StoredRulesetDocument,
  sha256Hex,
  versionKey,
} from "@vigil/hub";
import { type NatsServerHandle, startNatsServer } from "../../../test/harness/nats-server";
import { RulesetStore } from "./ruleset-store";

const logger = silentLogger();

function rule(index: number): RulesetRule {
  const id = `7d1f0c2a-0000-4000-8000-${String(index).padStart(12, "0")}`;
  const yaml = `id: ${id}\ntitle: rule ${index}\n# ${"padding ".repeat(40)}\n`;
  return { id, enabled: true, sha256: sha256Hex(yaml), yaml };
}

const actor = { id: "test", name: "test" };

describe("ruleset store - real NATS KV", () => {
  let server: NatsServerHandle;
  let busA: Bus;
  let busB: Bus;
  let bucket = 0;

  /** Each test its own bucket; the two stores sit on two connections, like two servers. */
  async function twoStores(
    options: { maxInlineBytes?: number } = {},
  ): Promise<[RulesetStore, RulesetStore, KvBucket]> {
    const spec = { ...RULESETS_BUCKET, name: `rulesets-test-${++bucket}` };
    const kvA = await busA.openKv(spec);
    const kvB = await busB.openKv(spec);
    return [
      new RulesetStore({ kv: kvA, logger, ...options }),
      new RulesetStore({ kv: kvB, logger, ...options }),
      kvA,
    ];
  }

  beforeAll(async () => {
    server = await startNatsServer();
    busA = await connectNatsBus({ servers: [server.url], name: "store-a", logger });
    busB = await connectNatsBus({ servers: [server.url], name: "store-b", logger });
  });

  afterAll(async () => {
    await busA?.close();
    await busB?.close();
    await server?.stop();
  });

  it("ruleset store - two servers starting together seed version 1 once", async () => {
    const [a, b, kv] = await twoStores();
    const results = await Promise.all([a.seed([rule(1)], actor), b.seed([rule(2)], actor)]);
    expect(results.filter((result) => result === 1)).toHaveLength(1);
    expect(results.filter((result) => result === undefined)).toHaveLength(1);
    const current = await a.current();
    expect(current?.version).toBe(1);
    expect(current?.rules).toHaveLength(1);
    expect((await readCurrentPointer(kv))?.version).toBe(1);
    expect(await a.seed([rule(3)], actor)).toBeUndefined();
  });

  it("ruleset store - concurrent changes from two servers all land, each as its own version", async () => {
    const [a, b] = await twoStores();
    await a.seed([], actor);
    const changes = Array.from({ length: 12 }, (_, index) => {
      const store = index % 2 === 0 ? a : b;
      return store.apply((current) => ({
        rules: [...current.rules, rule(index)],
        change: { action: "rule.create", ruleId: rule(index).id, actor },
      }));
    });
    const applied = await Promise.all(changes);
    expect(new Set(applied.map(({ after }) => after.version)).size).toBe(12);
    for (const { before, after } of applied) expect(after.version).toBe(before.version + 1);
    const current = await b.current();
    expect(current?.version).toBe(13);
    expect(current?.rules.map((r) => r.id).sort()).toEqual(
      Array.from({ length: 12 }, (_, index) => rule(index).id).sort(),
    );
    const versions = await a.versions(100);
    expect(versions.map((summary) => summary.version)).toEqual(Array.from({ length: 13 }, (_, i) => 13 - i));
    expect(versions[0].change.action).toBe("rule.create");
    expect(versions.at(-1)?.change.action).toBe("ruleset.seed");
    expect((await a.versions(5, 4)).map((summary) => summary.version)).toEqual([3, 2, 1]);
  });

  it("ruleset store - a version too large to inline keeps its rule bodies under their hashes", async () => {
    const [a, b, kv] = await twoStores({ maxInlineBytes: 2048 });
    const many = Array.from({ length: 40 }, (_, index) => rule(index));
    await a.seed(many, actor);
    const stored = await kv.get(versionKey(1));
    const document = decodeJson<StoredRulesetDocument>(stored?.value ?? new Uint8Array(), "v1");
    expect(document.rules.every((entry) => entry.yaml === undefined)).toBe(true);
    expect((await kv.keys("rule-body.*")).length).toBe(40);
    const read = await b.version(1);
    expect(read?.rules.map((r) => r.yaml)).toEqual(many.map((r) => r.yaml));
  });

  it("ruleset store - a version whose writer died before moving the pointer is found and pointed at", async () => {
    const [a, , kv] = await twoStores();
    await a.seed([rule(1)], actor);
    const orphan: StoredRulesetDocument = {
      version: 2,
      parent: 1,
      change: { action: "rule.create", ruleId: rule(2).id, actor, time: new Date().toISOString() },
      rules: [rule(1), rule(2)],
    };
    await kv.create(versionKey(2), encodeJson(orphan));
    expect((await readCurrentPointer(kv))?.version).toBe(1);
    const { before, after } = await a.apply((current) => ({
      rules: [...current.rules, rule(3)],
      change: { action: "rule.create", ruleId: rule(3).id, actor },
    }));
    expect(before.version).toBe(2);
    expect(after.version).toBe(3);
    expect(after.rules.map((r) => r.id)).toEqual([rule(1).id, rule(2).id, rule(3).id]);
    expect((await readCurrentPointer(kv))?.version).toBe(3);
  });
});
