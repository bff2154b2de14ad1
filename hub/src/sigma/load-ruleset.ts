// Reads every *.yml / *.yaml rule under a directory. Directories named
// `tests` hold rule test events, not rules, and are skipped.

import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { compileRules } from "./compile-rule";
import { ruleError } from "./rule-error";
import type { LoadResult } from "./types";

const RULE_FILE = /\.ya?ml$/i;

/** Rule files under dir, sorted so load order (and duplicate-id blame) is stable. */
export function listRuleFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (current: string): void => {
    for (const entry of readdirSync(current, { withFileTypes: true })) {
      const path = join(current, entry.name);
      if (entry.isDirectory()) {
        if (entry.name !== "tests" && !entry.name.startsWith(".")) walk(path);
      } else if (entry.isFile() && RULE_FILE.test(entry.name)) {
        out.push(path);
      }
    }
  };
  walk(dir);
  return out.sort();
}

/** Loads and compiles a directory of rules; never throws for a bad rule (see errors). */
export function loadRuleset(dir: string): LoadResult {
  let files: string[];
  try {
    files = listRuleFiles(dir);
  } catch (error) {
    return {
      rules: [],
      errors: [ruleError(dir, undefined, `cannot read rule directory: ${(error as Error).message}`, error)],
    };
  }
  const readErrors: LoadResult["errors"] = [];
  const sources: { source: string; text: string }[] = [];
  for (const file of files) {
    try {
      sources.push({ source: file, text: readFileSync(file, "utf8") });
    } catch (error) {
      readErrors.push(ruleError(file, undefined, `cannot read file: ${(error as Error).message}`, error));
    }
  }
  const { rules, errors } = compileRules(sources);
  return { rules, errors: [...readErrors, ...errors] };
}
