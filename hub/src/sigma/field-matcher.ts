// One `Field|modifiers: value(s)` entry compiled into a document predicate.
// Everything that can be decided from the rule — lower-casing, wildcard
// parsing, regex construction, CIDR parsing — happens here, once.

import { BlockList, isIP } from "node:net";
import { MAX_REGEX_INPUT, splitInlineFlags, unsafeRegexReason } from "./regex-guard";
import { RuleSyntaxError } from "./rule-error";
import type { EcsDocument, FieldSpec, NumericOperator, Predicate, StringPattern, ValueTest } from "./types";
import { compileStringPattern, matchPattern } from "./wildcard";

type Scalar = string | number | boolean | null;

/** Field value as text for string matching; objects never match. */
function toText(value: unknown): string | undefined {
  switch (typeof value) {
    case "string":
      return value;
    case "number":
    case "boolean":
    case "bigint":
      return String(value);
    default:
      return undefined;
  }
}

function toNumber(value: unknown): number {
  if (typeof value === "number") return value;
  if (typeof value === "string" && value.trim() !== "") return Number(value);
  return Number.NaN;
}

/**
 * Reads `path`; with `alsoPaths`, the values present at any of the paths, as one
 * value when only one is present and as a flat list otherwise (so they match like
 * an array field).
 */
export function compileGetter(
  path: readonly string[],
  alsoPaths: readonly (readonly string[])[] = [],
): (doc: EcsDocument) => unknown {
  const first = compilePathGetter(path);
  if (alsoPaths.length === 0) return first;
  const getters = [first, ...alsoPaths.map(compilePathGetter)];
  return (doc) => {
    let found: unknown;
    let many: unknown[] | undefined;
    for (const get of getters) {
      const value = get(doc);
      if (isAbsent(value)) continue;
      if (found === undefined && many === undefined) {
        found = value;
        continue;
      }
      many ??= Array.isArray(found) ? [...found] : [found];
      if (Array.isArray(value)) many.push(...value);
      else many.push(value);
    }
    return many ?? found;
  };
}

function compilePathGetter(path: readonly string[]): (doc: EcsDocument) => unknown {
  if (path.length === 1) {
    const [a] = path;
    return (doc) => doc[a];
  }
  return (doc) => {
    let node: unknown = doc;
    for (const segment of path) {
      if (typeof node !== "object" || node === null) return undefined;
      node = (node as Record<string, unknown>)[segment];
    }
    return node;
  };
}

function isAbsent(value: unknown): boolean {
  return value === undefined || value === null || (Array.isArray(value) && value.length === 0);
}

/** Applies a scalar test to a field value, unrolling arrays (any element may match). */
function testField(value: unknown, test: ValueTest): boolean {
  if (Array.isArray(value)) {
    for (const element of value) if (test(element)) return true;
    return false;
  }
  return test(value);
}

function normaliseValues(spec: FieldSpec, raw: unknown): Scalar[] {
  const values = Array.isArray(raw) ? raw : [raw];
  if (values.length === 0) throw new RuleSyntaxError(`'${spec.key}': empty value list`);
  return values.map((value, index) => {
    if (value === null || ["string", "number", "boolean"].includes(typeof value)) return value as Scalar;
    const where = Array.isArray(raw) ? `[${index}]` : "";
    throw new RuleSyntaxError(`'${spec.key}'${where}: value must be a string, number, boolean or null`);
  });
}

/** Patterns keyed by one character code, so long `endswith` lists cost a couple of comparisons. */
function bucket(map: Map<number, string[]>, key: number, text: string): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [text]);
  else list.push(text);
}

function stringTest(patterns: StringPattern[]): ValueTest {
  const exact = new Set<string>();
  const prefixes = new Map<number, string[]>();
  const suffixes = new Map<number, string[]>();
  const others: StringPattern[] = [];
  for (const pattern of patterns) {
    if (pattern.kind === "equals") exact.add(pattern.text);
    else if (pattern.kind === "prefix") bucket(prefixes, pattern.text.charCodeAt(0), pattern.text);
    else if (pattern.kind === "suffix")
      bucket(suffixes, pattern.text.charCodeAt(pattern.text.length - 1), pattern.text);
    else others.push(pattern);
  }
  const hasPrefixes = prefixes.size > 0;
  const hasSuffixes = suffixes.size > 0;
  return (value) => {
    const text = toText(value);
    if (text === undefined) return false;
    const lower = text.toLowerCase();
    if (exact.has(lower)) return true;
    if (hasPrefixes) {
      const candidates = prefixes.get(lower.charCodeAt(0));
      if (candidates !== undefined) for (const p of candidates) if (lower.startsWith(p)) return true;
    }
    if (hasSuffixes) {
      const candidates = suffixes.get(lower.charCodeAt(lower.length - 1));
      if (candidates !== undefined) for (const p of candidates) if (lower.endsWith(p)) return true;
    }
    for (const pattern of others) if (matchPattern(lower, pattern)) return true;
    return false;
  };
}

function regexTest(spec: FieldSpec, value: Scalar, flags: string): ValueTest {
  if (typeof value !== "string")
    throw new RuleSyntaxError(`'${spec.key}': a regular expression must be a string`);
  const inline = splitInlineFlags(value);
  const unsafe = unsafeRegexReason(inline.source);
  if (unsafe !== undefined)
    throw new RuleSyntaxError(`'${spec.key}': unsafe regular expression /${value}/: ${unsafe}`);
  let re: RegExp;
  try {
    re = new RegExp(inline.source, [...new Set(flags + inline.flags)].join(""));
  } catch (error) {
    throw new RuleSyntaxError(
      `'${spec.key}': invalid regular expression /${value}/: ${(error as Error).message}`,
    );
  }
  return (field) => {
    const text = toText(field);
    if (text === undefined) return false;
    return re.test(text.length > MAX_REGEX_INPUT ? text.slice(0, MAX_REGEX_INPUT) : text);
  };
}

function cidrTest(spec: FieldSpec, values: Scalar[]): ValueTest {
  const list = new BlockList();
  for (const value of values) {
    const [address, prefixText, extra] = typeof value === "string" ? value.split("/") : [];
    const family = address === undefined ? 0 : isIP(address);
    const max = family === 4 ? 32 : 128;
    const prefix = prefixText === undefined ? max : Number(prefixText);
    if (family === 0 || extra !== undefined || !Number.isInteger(prefix) || prefix < 0 || prefix > max) {
      throw new RuleSyntaxError(
        `'${spec.key}': '${String(value)}' is not a CIDR block like 10.0.0.0/8 or fd00::/8`,
      );
    }
    list.addSubnet(address, prefix, family === 4 ? "ipv4" : "ipv6");
  }
  return (field) => {
    const text = toText(field);
    if (text === undefined) return false;
    const family = isIP(text);
    return family !== 0 && list.check(text, family === 4 ? "ipv4" : "ipv6");
  };
}

function numericTest(spec: FieldSpec, value: Scalar, operator: NumericOperator): ValueTest {
  const bound = typeof value === "number" ? value : toNumber(value);
  if (Number.isNaN(bound)) throw new RuleSyntaxError(`'${spec.key}': '${String(value)}' is not a number`);
  switch (operator) {
    case "gt":
      return (field) => toNumber(field) > bound;
    case "gte":
      return (field) => toNumber(field) >= bound;
    case "lt":
      return (field) => toNumber(field) < bound;
    case "lte":
      return (field) => toNumber(field) <= bound;
    default: {
      const unreachable: never = operator;
      throw new Error(`unhandled operator ${String(unreachable)}`);
    }
  }
}

/** One test per value (for `|all`), or a single test covering every value (any). */
function valueTests(spec: FieldSpec, values: Scalar[]): { tests: ValueTest[]; matchNull: boolean } {
  const kind = spec.kind;
  const matchNull = values.includes(null);
  const present = values.filter((v): v is Exclude<Scalar, null> => v !== null);
  switch (kind.kind) {
    case "string": {
      const patterns = present.flatMap((value) => {
        const text = String(value);
        const mapped = spec.valueMap?.[text.toLowerCase()] ?? [text];
        return mapped.map((m) => compileStringPattern(m, kind.operator));
      });
      if (spec.all) return { tests: patterns.map((p) => stringTest([p])), matchNull };
      return { tests: patterns.length > 0 ? [stringTest(patterns)] : [], matchNull };
    }
    case "regex":
      return { tests: present.map((v) => regexTest(spec, v, kind.flags)), matchNull };
    case "cidr":
      if (spec.all) return { tests: present.map((v) => cidrTest(spec, [v])), matchNull };
      return { tests: [cidrTest(spec, present)], matchNull };
    case "numeric":
      return { tests: present.map((v) => numericTest(spec, v, kind.operator)), matchNull };
    case "exists":
      throw new Error("exists is compiled by compileFieldMatcher");
    default: {
      const unreachable: never = kind;
      throw new Error(`unhandled match kind ${JSON.stringify(unreachable)}`);
    }
  }
}

/** Compiles `key: value` of a selection into a predicate over the document. */
export function compileFieldMatcher(spec: FieldSpec, raw: unknown): Predicate {
  const get = compileGetter(spec.path, spec.alsoPaths);
  if (spec.kind.kind === "exists") {
    if (typeof raw !== "boolean") throw new RuleSyntaxError(`'${spec.key}': 'exists' takes true or false`);
    const expected = raw;
    return (doc) => !isAbsent(get(doc)) === expected;
  }
  const values = normaliseValues(spec, raw);
  const { tests, matchNull } = valueTests(spec, values);

  if (spec.all) {
    if (matchNull && tests.length > 0)
      throw new RuleSyntaxError(`'${spec.key}': null cannot be combined with '|all'`);
    if (matchNull) return (doc) => isAbsent(get(doc));
    return (doc) => {
      const value = get(doc);
      if (isAbsent(value)) return false;
      for (const test of tests) if (!testField(value, test)) return false;
      return true;
    };
  }
  if (tests.length === 0) return (doc) => isAbsent(get(doc));
  if (tests.length === 1) {
    const [test] = tests;
    return (doc) => {
      const value = get(doc);
      return isAbsent(value) ? matchNull : testField(value, test);
    };
  }
  return (doc) => {
    const value = get(doc);
    if (isAbsent(value)) return matchNull;
    for (const test of tests) if (testField(value, test)) return true;
    return false;
  };
}
