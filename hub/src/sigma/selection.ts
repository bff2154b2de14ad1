// A named detection item: a map (every field must match), a list of maps (any
// map may match) or a list of keywords (any keyword in a text field).

import { allOf, anyOf } from "./combinators";
import { compileFieldMatcher } from "./field-matcher";
import { parseFieldKey } from "./modifiers";
import { RuleSyntaxError } from "./rule-error";
import type { FieldSpec, LogsourceCategory, Predicate } from "./types";

/** Fields an unnamed keyword is searched in (Vigil events have no free-text message). */
export const KEYWORD_FIELDS = [
  "process.command_line",
  "process.executable",
  "process.exec_filename",
  "process.parent.command_line",
  "file.path",
] as const;

function isMap(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function compileMap(name: string, map: Record<string, unknown>, category: LogsourceCategory): Predicate {
  const keys = Object.keys(map);
  if (keys.length === 0) throw new RuleSyntaxError(`selection '${name}' is empty`);
  return allOf(
    keys.map((key) => {
      try {
        return compileFieldMatcher(parseFieldKey(key, category), map[key]);
      } catch (error) {
        if (error instanceof RuleSyntaxError)
          throw new RuleSyntaxError(`detection.${name}: ${error.message}`);
        throw error;
      }
    }),
  );
}

function compileKeywords(name: string, keywords: unknown[]): Predicate {
  const predicates = KEYWORD_FIELDS.map((field) => {
    const spec: FieldSpec = {
      key: `${name} (keywords)`,
      field,
      path: field.split("."),
      alsoPaths: [],
      kind: { kind: "string", operator: "contains" },
      all: false,
      valueMap: undefined,
    };
    return compileFieldMatcher(spec, keywords);
  });
  return anyOf(predicates);
}

export function compileSelection(name: string, value: unknown, category: LogsourceCategory): Predicate {
  if (isMap(value)) return compileMap(name, value, category);
  if (!Array.isArray(value) || value.length === 0) {
    throw new RuleSyntaxError(
      `detection.${name}: a selection must be a map, a list of maps or a list of keywords`,
    );
  }
  if (value.every(isMap)) return anyOf(value.map((map, i) => compileMap(`${name}[${i}]`, map, category)));
  if (value.every((v) => typeof v === "string" || typeof v === "number")) return compileKeywords(name, value);
  throw new RuleSyntaxError(`detection.${name}: a list must hold only maps or only keywords`);
}
