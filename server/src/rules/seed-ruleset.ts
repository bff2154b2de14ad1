import { readFileSync } from "node:fs";
import type { Logger } from "@vigil/common";
import { listRuleFiles, type RulesetRule, sha256Hex } from "@vigil/hub";
import { describeProblems, validateRule } from "./rule-validation";
import type { RulesetStore } from "./ruleset-store";

/**
 * Version 1 of the KV ruleset is the rules directory the hubs would load
 * (rules/ by default). A file that does not compile is logged and left out,
 * as the hub does; a second file with the same rule id is left out too.
 * A bucket that holds a ruleset already (another server seeded it, or an
 * earlier start of a persistent store, operator changes included) is left
 * as it is and the directory is not read. Returns the version created, or
 * undefined when the bucket had a ruleset.
 */
export async function seedRuleset(
  store: RulesetStore,
  dir: string,
  logger: Logger,
): Promise<number | undefined> {
  const existing = await store.latest();
  if (existing !== undefined) {
    logger.info({ version: existing, dir }, "ruleset bucket holds a ruleset: not seeded");
    return undefined;
  }
  const rules: RulesetRule[] = [];
  const seen = new Set<string>();
  for (const file of listRuleFiles(dir)) {
    const yaml = readFileSync(file, "utf8");
    const validation = validateRule(yaml);
    if (!validation.ok) {
      logger.error({ file }, `seed rule left out: ${describeProblems(validation.problems)}`);
      continue;
    }
    if (seen.has(validation.rule.id)) {
      logger.error({ file, ruleId: validation.rule.id }, "seed rule left out: duplicate rule id");
      continue;
    }
    seen.add(validation.rule.id);
    rules.push({ id: validation.rule.id, enabled: true, sha256: sha256Hex(yaml), yaml });
  }
  const created = await store.seed(rules, { id: "system", name: `seed from ${dir}` });
  if (created !== undefined) logger.info({ version: created, rules: rules.length, dir }, "ruleset seeded");
  return created;
}
