// Reads a rules directory (the files loadRuleset reads) into base and
// correlation rules: the hub's rules directory may hold both.

import { readFileSync } from "node:fs";
import { ErrorCodes, VigilError } from "@vigil/common";
import { listRuleFiles } from "../sigma";
import { type CompiledRuleSources, compileRuleSources, type RuleSource } from "./compile-rule-sources";

/** Never throws for a bad rule: see errors. */
export function loadRuleSources(dir: string): CompiledRuleSources {
  const errors: VigilError[] = [];
  let files: string[];
  try {
    files = listRuleFiles(dir);
  } catch (error) {
    const message = `${dir}: cannot read rule directory: ${(error as Error).message}`;
    return {
      rules: [],
      correlations: [],
      errors: [new VigilError(ErrorCodes.RULE_INVALID, message, { cause: error })],
    };
  }
  const sources: RuleSource[] = [];
  for (const file of files) {
    try {
      sources.push({ source: file, text: readFileSync(file, "utf8") });
    } catch (error) {
      const message = `${file}: cannot read file: ${(error as Error).message}`;
      errors.push(new VigilError(ErrorCodes.RULE_INVALID, message, { cause: error }));
    }
  }
  const compiled = compileRuleSources(sources);
  return { ...compiled, errors: [...errors, ...compiled.errors] };
}
