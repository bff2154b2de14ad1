// Evaluates a document against a whole ruleset through a two-level index built
// once per ruleset: by logsource category (a process event only runs process
// rules; a document no rule can see costs one classification), then by the ECS
// paths the rules require (checked once per group, so rules reading a field
// the event lacks are never run).

import { fieldReader, isAbsent } from "./field-values";
import { isCategory } from "./logsource";
import { type CompiledRule, type EcsDocument, LOGSOURCE_CATEGORIES, type LogsourceCategory } from "./types";

/** Statuses a Ruleset leaves out: Sigma marks these as not meant to run. */
const INACTIVE_STATUSES: ReadonlySet<string> = new Set(["deprecated", "unsupported"]);

const NO_MATCH: readonly CompiledRule[] = Object.freeze([]);

interface RuleGroup {
  /** Getters of the paths every rule of the group requires. */
  required: ReadonlyArray<(doc: EcsDocument) => unknown>;
  rules: readonly CompiledRule[];
}

function groupByRequiredPaths(rules: readonly CompiledRule[]): RuleGroup[] {
  const groups = new Map<string, { paths: readonly string[]; rules: CompiledRule[] }>();
  for (const rule of rules) {
    const key = rule.requiredPaths.join("\n");
    const group = groups.get(key);
    if (group === undefined) groups.set(key, { paths: rule.requiredPaths, rules: [rule] });
    else group.rules.push(rule);
  }
  return [...groups.values()].map(({ paths, rules: list }) => ({
    required: paths.map((path) => fieldReader(path.split(".")).raw),
    rules: list,
  }));
}

export class Ruleset {
  private readonly byCategory: ReadonlyArray<readonly [LogsourceCategory, readonly RuleGroup[]]>;
  private readonly all: readonly CompiledRule[];

  constructor(rules: readonly CompiledRule[]) {
    this.all = rules.filter((rule) => !INACTIVE_STATUSES.has(rule.status));
    // Only categories that have rules are checked per event.
    this.byCategory = LOGSOURCE_CATEGORIES.map(
      (category) =>
        [category, groupByRequiredPaths(this.all.filter((rule) => rule.category === category))] as const,
    ).filter(([, groups]) => groups.length > 0);
  }

  /** Active rules (deprecated and unsupported ones are left out). */
  get rules(): readonly CompiledRule[] {
    return this.all;
  }

  get size(): number {
    return this.all.length;
  }

  /** The rules a document fires, per category and required-path group; a shared empty array when none. */
  match(doc: EcsDocument): readonly CompiledRule[] {
    let out: CompiledRule[] | undefined;
    for (const [category, groups] of this.byCategory) {
      if (!isCategory(doc, category)) continue;
      nextGroup: for (const group of groups) {
        for (const get of group.required) if (isAbsent(get(doc))) continue nextGroup;
        for (const rule of group.rules) {
          if (!rule.matchesDetection(doc)) continue;
          if (out === undefined) out = [rule];
          else out.push(rule);
        }
      }
    }
    return out ?? NO_MATCH;
  }
}
