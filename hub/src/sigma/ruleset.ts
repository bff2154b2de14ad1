// Evaluates a document against a whole ruleset. Rules are bucketed by
// logsource category when the set is built, so a process event only runs
// process rules and a document no rule can see costs one classification.

import { isCategory } from "./logsource";
import { type CompiledRule, type EcsDocument, LOGSOURCE_CATEGORIES, type LogsourceCategory } from "./types";

/** Statuses a Ruleset leaves out: Sigma marks these as not meant to run. */
const INACTIVE_STATUSES: ReadonlySet<string> = new Set(["deprecated", "unsupported"]);

const NO_MATCH: readonly CompiledRule[] = Object.freeze([]);

export class Ruleset {
  private readonly byCategory: ReadonlyArray<readonly [LogsourceCategory, readonly CompiledRule[]]>;
  private readonly all: readonly CompiledRule[];

  constructor(rules: readonly CompiledRule[]) {
    this.all = rules.filter((rule) => !INACTIVE_STATUSES.has(rule.status));
    // Only categories that have rules are checked per event.
    this.byCategory = LOGSOURCE_CATEGORIES.map(
      (category) => [category, this.all.filter((rule) => rule.category === category)] as const,
    ).filter(([, list]) => list.length > 0);
  }

  /** Active rules (deprecated and unsupported ones are left out). */
  get rules(): readonly CompiledRule[] {
    return this.all;
  }

  get size(): number {
    return this.all.length;
  }

  /** The rules a document fires, in ruleset order per category; a shared empty array when none. */
  match(doc: EcsDocument): readonly CompiledRule[] {
    let out: CompiledRule[] | undefined;
    for (const [category, rules] of this.byCategory) {
      if (!isCategory(doc, category)) continue;
      for (const rule of rules) {
        if (!rule.matchesDetection(doc)) continue;
        if (out === undefined) out = [rule];
        else out.push(rule);
      }
    }
    return out ?? NO_MATCH;
  }
}
