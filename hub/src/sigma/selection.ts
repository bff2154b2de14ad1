// A named detection item: a map (every field must match), a list of maps (any
// map may match) or a list of keywords (any keyword in a text field).

import { allOf, anyOf } from "./combinators";
import { compileFieldMatcher } from "./field-matcher";
import { parseFieldKey } from "./modifiers";
import { RuleSyntaxError } from "./rule-error";
import type { FieldSpec, LogsourceCategory, Predicate } from "./types";

/**
 * Fields a keyword (a value without a field) is searched in. Vigil events have no
 * free-text message, so keywords look in the text an analyst would grep: the
 * process's and its parent's command line and executable, the file path and
 * the DNS query name.
 */
export const KEYWORD_FIELDS = [
  "process.command_line",
  "process.executable",
  "process.exec_filename",
  "process.parent.command_line",
  "process.parent.executable",
  "file.path",
  "vigil.query_name",
] as const;

function isMap(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Prefixes a compile error with the selection it is in. */
function wrap(name: string, compile: () => Predicate): Predicate {
  try {
    return compile();
  } catch (error) {
    if (error instanceof RuleSyntaxError && !error.message.startsWith("detection."))
      throw new RuleSyntaxError(`detection.${name}: ${error.message}`);
    throw error;
  }
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

/**
 * Keywords: any value found as a case-insensitive substring of any KEYWORD_FIELDS
 * field. `'|all': [...]` (a map whose only key is modifiers) needs every keyword;
 * the modifiers after `|` apply as to a field (`|cased`, `|re`, `|windash` …).
 */
function compileKeywords(
  name: string,
  keywords: unknown[],
  modifiers: string,
  category: LogsourceCategory,
): Predicate {
  const parsed = parseFieldKey(`process.command_line${modifiers}`, category);
  const plain = parsed.kind.kind === "string" && parsed.kind.operator === "equals";
  const spec: FieldSpec = {
    ...parsed,
    key: `${name} (keywords)`,
    field: "keywords",
    path: KEYWORD_FIELDS[0].split("."),
    alsoPaths: KEYWORD_FIELDS.slice(1).map((f) => f.split(".")),
    // A bare keyword is a substring search; explicit operators are kept.
    kind: plain && parsed.kind.kind === "string" ? { ...parsed.kind, operator: "contains" } : parsed.kind,
  };
  if (spec.kind.kind === "exists" || spec.kind.kind === "fieldref")
    throw new RuleSyntaxError(`detection.${name}: keywords cannot use '${spec.kind.kind}'`);
  if (keywords.some((k) => k === null))
    throw new RuleSyntaxError(`detection.${name}: a keyword cannot be null`);
  return compileFieldMatcher(spec, keywords);
}

function isKeywordList(value: unknown[]): boolean {
  return value.every((v) => typeof v === "string" || typeof v === "number");
}

export function compileSelection(name: string, value: unknown, category: LogsourceCategory): Predicate {
  if (isMap(value)) {
    const keys = Object.keys(value);
    // `keywords: { '|all': [a, b] }`: keywords with modifiers.
    if (keys.length === 1 && keys[0].startsWith("|")) {
      const list = value[keys[0]];
      const keywords = Array.isArray(list) ? list : [list];
      if (!isKeywordList(keywords))
        throw new RuleSyntaxError(`detection.${name}: '${keys[0]}' takes a list of keywords`);
      return wrap(name, () => compileKeywords(name, keywords, keys[0], category));
    }
    return compileMap(name, value, category);
  }
  if (!Array.isArray(value) || value.length === 0) {
    throw new RuleSyntaxError(
      `detection.${name}: a selection must be a map, a list of maps or a list of keywords`,
    );
  }
  if (value.every(isMap)) return anyOf(value.map((map, i) => compileMap(`${name}[${i}]`, map, category)));
  if (isKeywordList(value)) return wrap(name, () => compileKeywords(name, value, "", category));
  throw new RuleSyntaxError(`detection.${name}: a list must hold only maps or only keywords`);
}
