import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createMemoryBus, silentLogger } from "@vigil/common";
import { RULESETS_BUCKET } from "@vigil/hub";
import { RulesetStore } from "./ruleset-store";
import { seedRuleset } from "./seed-ruleset";

// Seeding on a store that survives restarts (embedded mode's control-plane
// file): the first start seeds version 1, later starts keep what is stored.

const logger = silentLogger();
const RULES = join(__dirname, "..", "..", "..", "rules", "linux", "process_creation");

describe("seed ruleset - persistent store", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "sqlite-kv-seed-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("seeds version 1 on the first start only; a restart keeps the operator's newer version and does not read the directory", async () => {
    const rulesDir = join(dir, "rules");
    mkdirSync(rulesDir);
    const files = readdirSync(RULES)
      .filter((name) => name.endsWith(".yml"))
      .slice(0, 2);
    for (const name of files) copyFileSync(join(RULES, name), join(rulesDir, name));
    const kvPath = join(dir, "control-plane.db");

    const first = createMemoryBus({ logger, kvPath });
    try {
      const store = new RulesetStore({ kv: await first.openKv(RULESETS_BUCKET), logger });
      expect(await seedRuleset(store, rulesDir, logger)).toBe(1);
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
      expect(current?.rules).toHaveLength(files.length - 1);
      expect((await store.versions(10)).map((v) => v.change.action)).toEqual(["rule.delete", "ruleset.seed"]);
    } finally {
      await second.close();
    }
  });
});
