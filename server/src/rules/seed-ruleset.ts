import { readFileSync } from "node:fs";
import type { Logger } from "@vigil/common";
import { listRuleFiles, type RulesetRule, sha256Hex } from "@vigil/hub";
import { type RuleProblem, readRuleText } from "./rule-validation";
import { checkRuleset } from "./ruleset-check";
import type { RulesetStore } from "./ruleset-store";

/** Rounds of leaving out files whose rules do not compile (leaving one out may break a correlation using it). */
const MAX_SEED_ROUNDS = 16;

function located(file: string, problem: RuleProblem): string {
  const where = problem.line === undefined ? "" : `:${problem.line}:${problem.column ?? 1}`;
  return `${file}${where}: ${problem.message}`;
}

/**
 * The rules of a directory as the API would store them, one file per rule
 * (a correlation file: the correlation and the base rules it holds), with
 * the files whose rules do not compile among the rest logged and left out,
 * as the hub leaves them out. The rest is a ruleset hubs install.
 */
export function readSeedRules(dir: string, logger: Logger): RulesetRule[] {
  const fileOf = new Map<string, string>();
  let rules: RulesetRule[] = [];
  for (const file of listRuleFiles(dir)) {
    const yaml = readFileSync(file, "utf8");
    const reading = readRuleText(yaml);
    if (!reading.ok) {
      for (const problem of reading.problems)
        logger.error({ file }, `seed rule left out: ${located(file, problem)}`);
      continue;
    }
    const { id } = reading.text;
    const first = fileOf.get(id);
    if (first !== undefined) {
      logger.error(
        { file, ruleId: id },
        `seed rule left out: ${file}: duplicate rule id (already in ${first})`,
      );
      continue;
    }
    fileOf.set(id, file);
    rules.push({ id, enabled: true, sha256: sha256Hex(yaml), yaml });
  }
  for (let round = 0; round < MAX_SEED_ROUNDS; round++) {
    const { problems } = checkRuleset(rules);
    if (problems.length === 0) return rules;
    const bad = new Set<string>();
    for (const problem of problems) {
      const file = fileOf.get(problem.ruleId ?? "") ?? dir;
      logger.error({ file, ruleId: problem.ruleId }, `seed rule left out: ${located(file, problem)}`);
      if (problem.ruleId !== undefined) bad.add(problem.ruleId);
    }
    if (bad.size === 0) break;
    rules = rules.filter((rule) => !bad.has(rule.id));
  }
  // Problems no file can be blamed for: seed nothing rather than a version hubs refuse.
  logger.error({ dir }, "seed rules do not compile together; seeding an empty ruleset");
  return [];
}

/**
 * Version 1 of the KV ruleset is the rules directory the hubs would load
 * (rules/ by default, correlations included). A bucket that holds a ruleset
 * already (another server seeded it, or an earlier start of a persistent
 * store, operator changes included) is left as it is and the directory is
 * not read. Returns the version created, or undefined when the bucket had a
 * ruleset.
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
  const rules = readSeedRules(dir, logger);
  const created = await store.seed(rules, { id: "system", name: `seed from ${dir}` });
  if (created !== undefined) logger.info({ version: created, rules: rules.length, dir }, "ruleset seeded");
  return created;
}
