// Turns a parsed condition into one predicate over the compiled selections.
// Name patterns (`1 of selection_*`) are expanded here, once.

import { allOf, anyOf } from "./combinators";
import { RuleSyntaxError } from "./rule-error";
import type { ConditionNode, OfTarget, Predicate } from "./types";

/** Selection names are case-sensitive; only `*` is a wildcard in them. */
function namePattern(pattern: string): RegExp {
  const escaped = pattern.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replaceAll("*", ".*");
  return new RegExp(`^${escaped}$`);
}

/** The selection names an `of` target stands for; throws when it names none. */
export function expandNames(target: OfTarget, names: readonly string[]): string[] {
  switch (target.kind) {
    case "them": {
      // Like pySigma: names starting with "_" are helpers that `them` leaves out.
      const out = names.filter((name) => !name.startsWith("_"));
      if (out.length === 0) throw new RuleSyntaxError("condition: 'them' matches no selection");
      return out;
    }
    case "pattern": {
      const pattern = namePattern(target.pattern);
      const out = names.filter((name) => pattern.test(name));
      if (out.length === 0) throw new RuleSyntaxError(`condition: '${target.pattern}' matches no selection`);
      return out;
    }
    default: {
      const unreachable: never = target;
      throw new Error(`unhandled target ${JSON.stringify(unreachable)}`);
    }
  }
}

function expand(target: OfTarget, selections: ReadonlyMap<string, Predicate>): Predicate[] {
  return expandNames(target, [...selections.keys()]).map((name) => selections.get(name) as Predicate);
}

export function compileCondition(node: ConditionNode, selections: ReadonlyMap<string, Predicate>): Predicate {
  switch (node.kind) {
    case "and":
      return allOf(node.children.map((child) => compileCondition(child, selections)));
    case "or":
      return anyOf(node.children.map((child) => compileCondition(child, selections)));
    case "not": {
      const inner = compileCondition(node.child, selections);
      return (doc) => !inner(doc);
    }
    case "ref": {
      const predicate = selections.get(node.name);
      if (predicate === undefined) throw new RuleSyntaxError(`condition: unknown selection '${node.name}'`);
      return predicate;
    }
    case "of": {
      const predicates = expand(node.target, selections);
      return node.quantifier === "all" ? allOf(predicates) : anyOf(predicates);
    }
    default: {
      const unreachable: never = node;
      throw new Error(`unhandled condition node ${JSON.stringify(unreachable)}`);
    }
  }
}
