// AND / OR over compiled predicates; arrays are fixed at compile time and the
// single-child case returns the child itself so no wrapper runs per event.

import type { Predicate } from "./types";

export function allOf(predicates: readonly Predicate[]): Predicate {
  if (predicates.length === 1) return predicates[0];
  return (doc) => {
    for (const p of predicates) if (!p(doc)) return false;
    return true;
  };
}

export function anyOf(predicates: readonly Predicate[]): Predicate {
  if (predicates.length === 1) return predicates[0];
  return (doc) => {
    for (const p of predicates) if (p(doc)) return true;
    return false;
  };
}
