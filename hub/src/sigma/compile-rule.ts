// One Sigma YAML document into a CompiledRule, or a VigilError naming the
// file, the rule and what is wrong where.

import type { VigilError } from "@vigil/common";
import { isVigilError } from "@vigil/common";
import YAML from "yaml";
import { compileDetection } from "./compile-detection";
import { compileExtensions, withExceptions } from "./extensions";
import { isCategory } from "./logsource";
import { parseMetadata, peekRuleId } from "./parse-metadata";
import { RuleSyntaxError, ruleError } from "./rule-error";
import type { CompiledRule } from "./types";

/** Largest rule file accepted; real Sigma rules are a few kilobytes. */
export const MAX_RULE_BYTES = 256 * 1024;

function parseYaml(text: string, source: string): unknown {
  if (text.length > MAX_RULE_BYTES)
    throw ruleError(source, undefined, `file larger than ${MAX_RULE_BYTES} bytes`);
  const documents = YAML.parseAllDocuments(text, { uniqueKeys: true });
  const list = Array.isArray(documents) ? documents : [documents];
  const failed = list.find((d) => d.errors.length > 0);
  if (failed !== undefined) {
    throw ruleError(source, undefined, `invalid YAML: ${failed.errors[0].message.split("\n")[0]}`);
  }
  if (list.length === 0) throw ruleError(source, undefined, "file is empty");
  if (list.length !== 1) {
    throw ruleError(
      source,
      undefined,
      `expected one YAML document, found ${list.length} (rule collections are not supported)`,
    );
  }
  try {
    return list[0].toJS({ maxAliasCount: 100 });
  } catch (error) {
    throw ruleError(source, undefined, `invalid YAML: ${(error as Error).message}`, error);
  }
}

/** Compiles a rule; throws VigilError(RULE_INVALID). */
export function compileRule(yamlText: string, source: string): CompiledRule {
  const raw = parseYaml(yamlText, source);
  const peekId = peekRuleId(raw);
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw ruleError(source, peekId, "a rule must be a YAML map");
  }
  try {
    const metadata = parseMetadata(raw as Record<string, unknown>);
    const category = metadata.logsource.category;
    const detection = compileDetection((raw as Record<string, unknown>).detection, category);
    const extensions = compileExtensions((raw as Record<string, unknown>).vigil, category);
    const matchesDetection = withExceptions(detection.matches, extensions.exceptions);
    return {
      ...metadata,
      source,
      category,
      matchesDetection,
      matches: (doc) => isCategory(doc, category) && matchesDetection(doc),
      requiredPaths: detection.requiredPaths,
      gate: detection.gate,
      ...extensions,
    };
  } catch (error) {
    if (error instanceof RuleSyntaxError) throw ruleError(source, peekId, error.message);
    if (isVigilError(error)) throw error;
    throw ruleError(source, peekId, `internal error while compiling: ${(error as Error).message}`, error);
  }
}

/** Compiles many rule texts; bad ones become errors, duplicate ids are refused. */
export function compileRules(sources: Iterable<{ source: string; text: string }>): {
  rules: CompiledRule[];
  errors: VigilError[];
} {
  const rules: CompiledRule[] = [];
  const errors: VigilError[] = [];
  const seen = new Map<string, string>();
  for (const { source, text } of sources) {
    try {
      const rule = compileRule(text, source);
      const first = seen.get(rule.id);
      if (first !== undefined) {
        errors.push(ruleError(source, rule.id, `duplicate rule id (already defined in ${first})`));
        continue;
      }
      seen.set(rule.id, source);
      rules.push(rule);
    } catch (error) {
      errors.push(isVigilError(error) ? error : ruleError(source, undefined, String(error), error));
    }
  }
  return { rules, errors };
}
