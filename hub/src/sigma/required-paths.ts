// The ECS paths a detection cannot match without: the Ruleset checks them once
// per event for a whole group of rules, so a rule reading DestinationPort is
// never run on an exec and one reading vigil.stdin_remote_ip skips the events
// that lack it. Conservative: a path is required only when no way through the
// condition can match without it.

import { parseFieldKey } from "./modifiers";
import type { ConditionNode, LogsourceCategory } from "./types";

function isMap(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function intersect(sets: Set<string>[]): Set<string> {
  if (sets.length === 0) return new Set();
  const [first, ...rest] = sets;
  return new Set([...first].filter((p) => rest.every((s) => s.has(p))));
}

function union(sets: Set<string>[]): Set<string> {
  return new Set(sets.flatMap((s) => [...s]));
}

/** Paths every match of one map needs: keys that an absent field can never satisfy. */
function mapPaths(map: Record<string, unknown>, category: LogsourceCategory): Set<string> {
  const out = new Set<string>();
  for (const [key, value] of Object.entries(map)) {
    if (key.startsWith("|")) continue;
    const spec = parseFieldKey(key, category);
    if (spec.alsoPaths.length > 0 || spec.kind.kind === "exists") continue;
    const values = Array.isArray(value) ? value : [value];
    if (values.some((v) => v === null || v === "")) continue;
    out.add(spec.path.join("."));
  }
  return out;
}

export function selectionPaths(raw: unknown, category: LogsourceCategory): Set<string> {
  if (isMap(raw)) return mapPaths(raw, category);
  if (Array.isArray(raw) && raw.length > 0 && raw.every(isMap))
    return intersect(raw.map((m) => mapPaths(m, category)));
  return new Set();
}

/** Required paths of a condition, given each selection's; `of` targets are the names they expand to. */
export function conditionPaths(
  node: ConditionNode,
  selections: ReadonlyMap<string, Set<string>>,
  expand: (node: Extract<ConditionNode, { kind: "of" }>) => string[],
): Set<string> {
  switch (node.kind) {
    case "and":
      return union(node.children.map((c) => conditionPaths(c, selections, expand)));
    case "or":
      return intersect(node.children.map((c) => conditionPaths(c, selections, expand)));
    case "not":
      return new Set();
    case "ref":
      return selections.get(node.name) ?? new Set();
    case "of": {
      const sets = expand(node).map((name) => selections.get(name) ?? new Set<string>());
      return node.quantifier === "all" ? union(sets) : intersect(sets);
    }
    default: {
      const unreachable: never = node;
      throw new Error(`unhandled condition node ${JSON.stringify(unreachable)}`);
    }
  }
}
