// Evaluates a document against a whole ruleset through a two-level index built
// once per ruleset: by logsource category (a process event only runs process
// rules; a document no rule can see costs one classification), then by the ECS
// paths the rules require (checked once per group, so rules reading a field
// the event lacks are never run), and within a category by the literals the
// rules need (gate-index.ts: a rule looking for 'nc -e' in the command line
// runs only on events whose command line holds it).

import { fieldReader, isAbsent } from "./field-values";
import { GateIndex } from "./gate-index";
import { isEventOfCategory } from "./logsource";
import { type CompiledRule, type EcsDocument, LOGSOURCE_CATEGORIES, type LogsourceCategory } from "./types";

/** Statuses a Ruleset leaves out: Sigma marks these as not meant to run. */
const INACTIVE_STATUSES: ReadonlySet<string> = new Set(["deprecated", "unsupported"]);

const NO_MATCH: readonly CompiledRule[] = Object.freeze([]);

interface RuleGroup {
  /** Getters of the paths every rule of the group requires. */
  required: ReadonlyArray<(doc: EcsDocument) => unknown>;
  rules: readonly CompiledRule[];
  /** Each rule's position in its category's GateIndex. */
  positions: readonly number[];
}

interface CategoryRules {
  category: LogsourceCategory;
  groups: readonly RuleGroup[];
  gates: GateIndex;
}

function indexCategory(category: LogsourceCategory, rules: readonly CompiledRule[]): CategoryRules {
  const groups = new Map<string, { paths: readonly string[]; rules: CompiledRule[]; positions: number[] }>();
  rules.forEach((rule, position) => {
    const key = rule.requiredPaths.join("\n");
    const group = groups.get(key);
    if (group === undefined)
      groups.set(key, { paths: rule.requiredPaths, rules: [rule], positions: [position] });
    else {
      group.rules.push(rule);
      group.positions.push(position);
    }
  });
  return {
    category,
    groups: [...groups.values()].map(({ paths, rules: list, positions }) => ({
      required: paths.map((path) => fieldReader(path.split(".")).raw),
      rules: list,
      positions,
    })),
    gates: new GateIndex(rules.map((rule) => rule.gate)),
  };
}

export class Ruleset {
  private readonly byCategory: readonly CategoryRules[];
  private readonly all: readonly CompiledRule[];

  constructor(rules: readonly CompiledRule[]) {
    this.all = rules.filter((rule) => !INACTIVE_STATUSES.has(rule.status));
    // Only categories that have rules are checked per event.
    this.byCategory = LOGSOURCE_CATEGORIES.map((category) =>
      indexCategory(
        category,
        this.all.filter((rule) => rule.category === category),
      ),
    ).filter(({ groups }) => groups.length > 0);
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
    const event = doc.event;
    if (typeof event !== "object" || event === null) return NO_MATCH;
    let out: CompiledRule[] | undefined;
    for (const { category, groups, gates } of this.byCategory) {
      if (!isEventOfCategory(event as EcsDocument, category)) continue;
      // The literals are looked for once, when the first gated rule is reached.
      let scanned = false;
      nextGroup: for (const group of groups) {
        for (const get of group.required) if (isAbsent(get(doc))) continue nextGroup;
        for (let i = 0; i < group.rules.length; i++) {
          const rule = group.rules[i];
          if (rule.gate !== undefined) {
            if (!scanned) {
              gates.scan(doc);
              scanned = true;
            }
            if (!gates.isOpen(group.positions[i])) continue;
          }
          if (!rule.matchesDetection(doc)) continue;
          if (out === undefined) out = [rule];
          else out.push(rule);
        }
      }
    }
    return out ?? NO_MATCH;
  }
}
