// `detection:` — named selections plus a condition — into one predicate.

import { anyOf } from "./combinators";
import { compileCondition, expandNames } from "./condition-compiler";
import { parseCondition } from "./condition-parser";
import { conditionGate, detectionGate, type Gate, selectionGate } from "./literal-gates";
import { conditionPaths, selectionPaths } from "./required-paths";
import { RuleSyntaxError } from "./rule-error";
import { compileSelection } from "./selection";
import type { ConditionNode, LogsourceCategory, Predicate } from "./types";

const SELECTION_NAME = /^[A-Za-z0-9_.-]+$/;

export interface CompiledDetection {
  matches: Predicate;
  /** ECS paths no match can do without (see required-paths.ts). */
  requiredPaths: string[];
  /** Literals no match can do without (see literal-gates.ts); undefined when a match may need none. */
  gate: Gate | undefined;
}

export function compileDetection(raw: unknown, category: LogsourceCategory): CompiledDetection {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw new RuleSyntaxError("detection: missing or not a map");
  }
  const detection = raw as Record<string, unknown>;
  if (detection.timeframe !== undefined) {
    throw new RuleSyntaxError("detection.timeframe: windowed rules are not supported by this engine");
  }
  const condition = detection.condition;
  if (condition === undefined) throw new RuleSyntaxError("detection.condition: missing");
  // A list of conditions is the deprecated Sigma form of OR.
  const conditions = Array.isArray(condition) ? condition : [condition];
  if (conditions.length === 0 || conditions.some((c) => typeof c !== "string")) {
    throw new RuleSyntaxError("detection.condition: must be a string (or a list of strings)");
  }

  const selections = new Map<string, Predicate>();
  const paths = new Map<string, Set<string>>();
  const gates = new Map<string, Gate | undefined>();
  for (const [name, value] of Object.entries(detection)) {
    if (name === "condition") continue;
    if (!SELECTION_NAME.test(name)) throw new RuleSyntaxError(`detection.${name}: invalid selection name`);
    selections.set(name, compileSelection(name, value, category));
    paths.set(name, selectionPaths(value, category));
    gates.set(name, selectionGate(value, category));
  }
  if (selections.size === 0) throw new RuleSyntaxError("detection: no selections");
  const parsed = conditions.map((c) => parseCondition(c as string));
  const names = [...selections.keys()];
  // A list of conditions is an OR: only paths every one of them requires.
  const perCondition = parsed.map((node) =>
    conditionPaths(node, paths, (of) => expandNames(of.target, names)),
  );
  const required = [...perCondition[0]].filter((p) => perCondition.every((set) => set.has(p)));
  const expand = (of: Extract<ConditionNode, { kind: "of" }>) => expandNames(of.target, names);
  return {
    matches: anyOf(parsed.map((node) => compileCondition(node, selections))),
    requiredPaths: required.sort(),
    gate: detectionGate(parsed.map((node) => conditionGate(node, gates, expand))),
  };
}
