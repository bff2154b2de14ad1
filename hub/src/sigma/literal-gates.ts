// The literals a detection cannot match without. A rule such as
// `CommandLine|contains: ['nc -e', 'ncat -e']` can only fire on an event
// whose lower-cased command line contains one of those texts: the Ruleset's
// GateIndex finds, in one pass over each field, which of all its rules'
// literals an event holds, and runs only the rules whose gate opened.
// Conservative like required-paths.ts: a gate is a necessary condition only,
// and a detection with any way to match without a literal has none.

import { parseFieldKey } from "./modifiers";
import { requiredLiteral } from "./regex-guard";
import type { ConditionNode, FieldSpec, LogsourceCategory, StringPattern } from "./types";
import { transformValue } from "./value-transforms";
import { compileStringPattern } from "./wildcard";

/** Shorter literals filter nothing worth the lookup. */
export const MIN_LITERAL_LENGTH = 2;

/** One field and the lower-cased texts of which at least one must occur in it. */
export interface FieldGate {
  path: readonly string[];
  alsoPaths: readonly (readonly string[])[];
  literals: readonly string[];
}

/** The detection matches only if some literal of some entry occurs in its field. */
export type Gate = readonly FieldGate[];

function isMap(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The longest run of literal text every match of the pattern contains. */
function patternLiteral(pattern: StringPattern): string | undefined {
  switch (pattern.kind) {
    case "equals":
    case "prefix":
    case "suffix":
    case "contains":
      return pattern.text;
    case "any":
      return undefined;
    case "glob": {
      let best = "";
      for (const segment of pattern.glob.segments) {
        let start = 0;
        for (const wildcard of [...segment.anyChar, segment.text.length]) {
          const run = segment.text.slice(start, wildcard);
          if (run.length > best.length) best = run;
          start = wildcard + 1;
        }
      }
      return best;
    }
    default: {
      const unreachable: never = pattern;
      throw new Error(`unhandled pattern ${JSON.stringify(unreachable)}`);
    }
  }
}

/** The literals of one value: any may be the one that occurs; undefined when a match needs none. */
function valueLiterals(spec: FieldSpec, value: string | number | boolean): string[] | undefined {
  const kind = spec.kind;
  const text = String(value);
  if (kind.kind === "regex") {
    const literal = requiredLiteral(text);
    return literal === undefined ? undefined : [literal];
  }
  if (kind.kind !== "string") return undefined;
  const mapped = spec.valueMap?.[text.toLowerCase()] ?? [text];
  const out: string[] = [];
  for (const variant of mapped.flatMap((m) => transformValue(m, kind.transforms, spec.key))) {
    const literal = patternLiteral(compileStringPattern(variant, kind.operator, kind.cased));
    if (literal === undefined || literal.length < MIN_LITERAL_LENGTH) return undefined;
    out.push(literal.toLowerCase());
  }
  return out;
}

/** The gate of one `Field|modifiers: values` entry. */
function entryGate(key: string, raw: unknown, category: LogsourceCategory): Gate | undefined {
  if (key.startsWith("|")) return undefined;
  const spec = parseFieldKey(key, category);
  const values = Array.isArray(raw) ? raw : [raw];
  // null (and '' for equality) match an absent field: no literal is needed.
  if (values.length === 0 || values.some((v) => v === null || v === "" || typeof v === "object"))
    return undefined;
  const perValue = values.map((v) => valueLiterals(spec, v as string | number | boolean));
  if (spec.all) {
    // Every value must match: the best single value's literals are enough.
    const gates = perValue.filter((l): l is string[] => l !== undefined).map((l) => fieldGate(spec, l));
    return best(gates);
  }
  if (perValue.some((l) => l === undefined)) return undefined;
  return fieldGate(spec, (perValue as string[][]).flat());
}

function fieldGate(spec: FieldSpec, literals: string[]): Gate {
  return [{ path: spec.path, alsoPaths: spec.alsoPaths, literals: minimalLiterals(literals) }];
}

/** Of gates that must all hold, the one that filters most: longest shortest literal, then fewest. */
function best(gates: readonly (Gate | undefined)[]): Gate | undefined {
  let chosen: Gate | undefined;
  let chosenScore = [0, 0];
  for (const gate of gates) {
    if (gate === undefined) continue;
    const literals = gate.flatMap((g) => g.literals);
    const score = [Math.min(...literals.map((l) => l.length)), -literals.length];
    if (
      chosen === undefined ||
      score[0] > chosenScore[0] ||
      (score[0] === chosenScore[0] && score[1] > chosenScore[1])
    ) {
      chosen = gate;
      chosenScore = score;
    }
  }
  return chosen;
}

function pathKey(gate: FieldGate): string {
  return [gate.path, ...gate.alsoPaths].map((p) => p.join(".")).join("|");
}

/** Gates of which any may hold: all are needed (one without a gate opens the union). */
function union(gates: readonly (Gate | undefined)[]): Gate | undefined {
  if (gates.length === 0 || gates.some((g) => g === undefined)) return undefined;
  const byField = new Map<string, FieldGate>();
  for (const fieldGate of (gates as Gate[]).flat()) {
    const key = pathKey(fieldGate);
    const known = byField.get(key);
    byField.set(
      key,
      known === undefined ? fieldGate : { ...known, literals: [...known.literals, ...fieldGate.literals] },
    );
  }
  return [...byField.values()].map((g) => ({ ...g, literals: minimalLiterals(g.literals) }));
}

/** Drops duplicates and any literal that contains another: finding the shorter one is as good. */
function minimalLiterals(literals: readonly string[]): string[] {
  const unique = [...new Set(literals)].sort((a, b) => a.length - b.length);
  const out: string[] = [];
  for (const literal of unique) if (!out.some((kept) => literal.includes(kept))) out.push(literal);
  return out;
}

/** The gate of a selection: a map (every entry must match) or a list of maps (any may). */
export function selectionGate(raw: unknown, category: LogsourceCategory): Gate | undefined {
  if (isMap(raw)) return best(Object.entries(raw).map(([key, value]) => entryGate(key, value, category)));
  if (Array.isArray(raw) && raw.length > 0 && raw.every(isMap))
    return union(raw.map((map) => selectionGate(map, category)));
  // Keyword lists search several fields with their own rules: no gate.
  return undefined;
}

/** The gate of a condition, given each selection's; `of` targets are the names they expand to. */
export function conditionGate(
  node: ConditionNode,
  selections: ReadonlyMap<string, Gate | undefined>,
  expand: (node: Extract<ConditionNode, { kind: "of" }>) => string[],
): Gate | undefined {
  switch (node.kind) {
    case "and":
      return best(node.children.map((c) => conditionGate(c, selections, expand)));
    case "or":
      return union(node.children.map((c) => conditionGate(c, selections, expand)));
    case "not":
      return undefined;
    case "ref":
      return selections.get(node.name);
    case "of": {
      const gates = expand(node).map((name) => selections.get(name));
      return node.quantifier === "all" ? best(gates) : union(gates);
    }
    default: {
      const unreachable: never = node;
      throw new Error(`unhandled condition node ${JSON.stringify(unreachable)}`);
    }
  }
}

/** A list of conditions is an OR of them. */
export function detectionGate(perCondition: readonly (Gate | undefined)[]): Gate | undefined {
  return perCondition.length === 1 ? perCondition[0] : union(perCondition);
}
