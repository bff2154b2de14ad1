import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createMemoryBus, silentLogger } from "@vigil/common";
import { RULESETS_BUCKET } from "@vigil/hub";
import { RulesetStore } from "./ruleset-store";
import { seedRuleset } from "./seed-ruleset";

// Seeding on a store that survives restarts (embedded mode's control-plane
// file): the first start seeds version 1, later starts keep what is stored.

const logger = silentLogger();

function ruleYaml(index: number): string {
  return `title: Command line holds seed-canary-${index}
id: 5e3d2c1b-0000-4a7b-8c9d-${String(index).padStart(12, "0")}
status: test
description: seed test rule
author: Vigil tests
level: high
logsource:
  product: linux
  category: process_creation
detection:
  selection:
    CommandLine|contains: seed-canary-${index}
  condition: selection
`;
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
