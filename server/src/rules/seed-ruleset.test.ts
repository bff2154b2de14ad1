import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLogger, createMemoryBus, silentLogger } from "@vigil/common";
import { DEFAULT_RULES_DIR, listRuleFiles, RULESETS_BUCKET } from "@vigil/hub";
import { commandLineRule } from "../../../test/fixtures/process-rule";
import { RulesetStore } from "./ruleset-store";
import { seedRuleset } from "./seed-ruleset";

// Seeding on a store that survives restarts (embedded mode's control-plane
// file): the first start seeds version 1, later starts keep what is stored.

const logger = silentLogger();

function ruleYaml(index: number): string {
  return commandLineRule(`seed-canary-${index}`, {
    id: `5e3d2c1b-0000-4a7b-8c9d-${String(index).padStart(12, "0")}`,
  });
}

describe("seed ruleset - persistent store", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "sqlite-kv-seed-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("seeds version 1 on the first start only; a restart keeps the operator's newer version and does not read the directory", async () => {
    const rulesDir = join(dir, "rules");
    mkdirSync(rulesDir);
    for (const index of [1, 2]) writeFileSync(join(rulesDir, `seed-${index}.yml`), ruleYaml(index));
    const kvPath = join(dir, "control-plane.db");

    const first = createMemoryBus({ logger, kvPath });
    try {
      const store = new RulesetStore({ kv: await first.openKv(RULESETS_BUCKET), logger });
      expect(await seedRuleset(store, rulesDir, logger)).toBe(1);
      expect((await store.current())?.rules).toHaveLength(2);
      const { after } = await store.apply((current) => ({
        rules: current.rules.slice(1),
        change: { action: "rule.delete", ruleId: current.rules[0]?.id, actor: { id: "op", name: "op" } },
      }));
      expect(after.version).toBe(2);
    } finally {
      await first.close();
    }

    const second = createMemoryBus({ logger, kvPath });
    try {
      const store = new RulesetStore({ kv: await second.openKv(RULESETS_BUCKET), logger });
      // The directory is gone: seeding must not need it when the bucket holds a ruleset.
      rmSync(rulesDir, { recursive: true });
      expect(await seedRuleset(store, rulesDir, logger)).toBeUndefined();
      const current = await store.current();
      expect(current?.version).toBe(2);
      expect(current?.rules).toHaveLength(1);
      expect((await store.versions(10)).map((v) => v.change.action)).toEqual(["rule.delete", "ruleset.seed"]);
    } finally {
      await second.close();
    }
  });
});

describe("seed ruleset - the default rules directory", () => {
  it("stores every rule file, correlations included, as one rule each, and logs no error", async () => {
    const lines: string[] = [];
    const capturing = createLogger({
      name: "seed-test",
      level: "debug",
      destination: { write: (l) => lines.push(l) },
    });
    const bus = createMemoryBus({ logger });
    try {
      const store = new RulesetStore({ kv: await bus.openKv(RULESETS_BUCKET), logger });
      expect(await seedRuleset(store, DEFAULT_RULES_DIR, capturing)).toBe(1);
      const rules = (await store.current())?.rules ?? [];
      const files = listRuleFiles(DEFAULT_RULES_DIR);
      expect(rules).toHaveLength(files.length);
      expect(rules).toHaveLength(75);
      const correlations = rules.filter((rule) => /^correlation:/m.test(rule.yaml));
      expect(correlations.map((rule) => rule.id).sort()).toEqual([
        "1886e7fd-ad80-4952-887c-affbf9ff9b1c",
        "840506d4-f7fc-4d63-8f98-f07c181a8a94",
      ]);
      expect(lines.filter((line) => JSON.parse(line).level >= 50)).toEqual([]);
    } finally {
      await bus.close();
    }
  });

  it("leaves out a file that does not compile and a correlation that used its rule, naming file and line", async () => {
    const dir = mkdtempSync(join(tmpdir(), "server-correlation-rules-seed-"));
    try {
      writeFileSync(join(dir, "good.yml"), ruleYaml(1));
      writeFileSync(
        join(dir, "bad.yml"),
        ruleYaml(2).replace("CommandLine|contains", "CommandLine|containz"),
      );
      writeFileSync(
        join(dir, "corr.yml"),
        `title: canary twice
id: 5e3d2c1b-0000-4a7b-8c9d-0000000000c1
status: test
level: high
correlation:
  type: event_count
  rules:
    - 5e3d2c1b-0000-4a7b-8c9d-000000000002
  group-by:
    - host.name
  timespan: 1m
  condition:
    gte: 2
`,
      );
      const lines: string[] = [];
      const capturing = createLogger({ name: "seed-test", destination: { write: (l) => lines.push(l) } });
      const bus = createMemoryBus({ logger });
      try {
        const store = new RulesetStore({ kv: await bus.openKv(RULESETS_BUCKET), logger });
        expect(await seedRuleset(store, dir, capturing)).toBe(1);
        expect((await store.current())?.rules.map((rule) => rule.id)).toEqual([
          "5e3d2c1b-0000-4a7b-8c9d-000000000001",
        ]);
        const errors = lines.map((line) => JSON.parse(line)).filter((line) => line.level >= 50);
        expect(errors.map((line) => line.msg)).toEqual([
          expect.stringMatching(
            /bad\.yml:12:5: detection\.selection: 'CommandLine\|containz': unknown modifier/,
          ),
          expect.stringMatching(/corr\.yml:8:7: correlation\.rules\[0\]: unknown rule/),
        ]);
      } finally {
        await bus.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
