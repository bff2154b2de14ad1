// One `Field|modifiers: value(s)` entry compiled into a document predicate.
// Everything that can be decided from the rule — lower-casing, wildcard
// parsing, regex construction, CIDR parsing — happens here, once.

import { BlockList, isIP } from "node:net";
import { resolveField } from "./field-mapping";
import { fieldReader, type Getter, isAbsent, toText } from "./field-values";
import { compileGuardedRegex, UnsafeRegexError } from "./regex-guard";
import { RuleSyntaxError } from "./rule-error";
import type {
  FieldSpec,
  NumericOperator,
  Predicate,
  StringOperator,
  StringPattern,
  ValueTest,
} from "./types";
import { transformValue } from "./value-transforms";
import { compileStringPattern, matchPattern } from "./wildcard";

type Scalar = string | number | boolean | null;

function toNumber(value: unknown): number {
  if (typeof value === "number") return value;
  if (typeof value === "string" && value.trim() !== "") return Number(value);
  return Number.NaN;
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

/** Tests a value already in the patterns' case (lower-cased unless `cased`) against any pattern. */
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
    if (exact.has(text)) return true;
    if (hasPrefixes) {
      const candidates = prefixes.get(text.charCodeAt(0));
      if (candidates !== undefined) for (const p of candidates) if (text.startsWith(p)) return true;
    }
    if (hasSuffixes) {
      const candidates = suffixes.get(text.charCodeAt(text.length - 1));
      if (candidates !== undefined) for (const p of candidates) if (text.endsWith(p)) return true;
    }
    for (const pattern of others) if (matchPattern(text, pattern)) return true;
    return false;
  };
}

/** True when the (lower-cased) value, or any element of it, contains the literal. */
function mentions(value: unknown, literal: string): boolean {
  if (typeof value === "string") return value.includes(literal);
  if (Array.isArray(value)) {
    for (const element of value) if (typeof element === "string" && element.includes(literal)) return true;
  }
  return false;
}

function regexTest(spec: FieldSpec, value: Scalar, flags: string, lower: Getter, raw: Getter): Predicate {
  if (typeof value !== "string")
    throw new RuleSyntaxError(`'${spec.key}': a regular expression must be a string`);
  let regex: ReturnType<typeof compileGuardedRegex>;
  try {
    regex = compileGuardedRegex(value, flags);
  } catch (error) {
    if (error instanceof UnsafeRegexError)
      throw new RuleSyntaxError(`'${spec.key}': regular expression /${value}/ refused: ${error.message}`);
    throw error;
  }
  const test: ValueTest = (field) => {
    const text = toText(field);
    return text !== undefined && regex.test(text);
  };
  const literal = regex.literal;
  if (literal === undefined) return (doc) => testField(raw(doc), test);
  return (doc) => mentions(lower(doc), literal) && testField(raw(doc), test);
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

function textsOf(value: unknown): string[] {
  const list = Array.isArray(value) ? value : [value];
  const out: string[] = [];
  for (const element of list) {
    const text = toText(element);
    if (text !== undefined) out.push(text);
  }
  return out;
}

function compare(value: string, other: string, operator: StringOperator): boolean {
  switch (operator) {
    case "equals":
      return value === other;
    case "contains":
      return value.includes(other);
    case "startswith":
      return value.startsWith(other);
    case "endswith":
      return value.endsWith(other);
    default: {
      const unreachable: never = operator;
      throw new Error(`unhandled operator ${String(unreachable)}`);
    }
  }
}

/** `Field|fieldref: Other`: the field's value compared with another field's value of the same event. */
function fieldrefTest(
  spec: FieldSpec,
  value: Scalar,
  operator: StringOperator,
  get: Getter,
  cased: boolean,
): Predicate {
  if (typeof value !== "string") throw new RuleSyntaxError(`'${spec.key}': 'fieldref' takes a field name`);
  const other = resolveField(value, spec.category);
  if (!other.ok) throw new RuleSyntaxError(`'${spec.key}': fieldref: ${other.reason}`);
  const { path, alsoPaths = [] } = other.mapping;
  const reader = fieldReader(
    path.split("."),
    alsoPaths.map((p) => p.split(".")),
  );
  const getOther = cased ? reader.raw : reader.lower;
  return (doc) => {
    const theirs = textsOf(getOther(doc));
    if (theirs.length === 0) return false;
    for (const mine of textsOf(get(doc))) for (const t of theirs) if (compare(mine, t, operator)) return true;
    return false;
  };
}

interface Compiled {
  /** Per-value document tests, run when the field is present (one combined test when not `|all`). */
  tests: Predicate[];
  /** The entry holds for an absent field (`null`, or `''` which Vigil's documents leave out). */
  matchAbsent: boolean;
}

function compileValues(spec: FieldSpec, values: Scalar[]): Compiled {
  const kind = spec.kind;
  const reader = fieldReader(spec.path, spec.alsoPaths);
  const present = values.filter((v): v is Exclude<Scalar, null> => v !== null);
  let matchAbsent = values.includes(null);
  const onField =
    (test: ValueTest, get: Getter): Predicate =>
    (doc) =>
      testField(get(doc), test);
  switch (kind.kind) {
    case "string": {
      const get = kind.cased ? reader.raw : reader.lower;
      const transformed = kind.transforms.windash || kind.transforms.base64 !== undefined;
      if (kind.operator === "equals" && !transformed && present.some((v) => v === "")) matchAbsent = true;
      const perValue = present.map((value) => {
        const text = String(value);
        const mapped = spec.valueMap?.[text.toLowerCase()] ?? [text];
        return mapped
          .flatMap((m) => transformValue(m, kind.transforms, spec.key))
          .map((v) => compileStringPattern(v, kind.operator, kind.cased));
      });
      if (spec.all) return { tests: perValue.map((p) => onField(stringTest(p), get)), matchAbsent };
      const all = perValue.flat();
      return { tests: all.length > 0 ? [onField(stringTest(all), get)] : [], matchAbsent };
    }
    case "fieldref": {
      const get = kind.cased ? reader.raw : reader.lower;
      return {
        tests: present.map((v) => fieldrefTest(spec, v, kind.operator, get, kind.cased)),
        matchAbsent,
      };
    }
    case "regex":
      return {
        tests: present.map((v) => regexTest(spec, v, kind.flags, reader.lower, reader.raw)),
        matchAbsent,
      };
    case "cidr":
      if (spec.all)
        return { tests: present.map((v) => onField(cidrTest(spec, [v]), reader.raw)), matchAbsent };
      return { tests: present.length > 0 ? [onField(cidrTest(spec, present), reader.raw)] : [], matchAbsent };
    case "numeric":
      return {
        tests: present.map((v) => onField(numericTest(spec, v, kind.operator), reader.raw)),
        matchAbsent,
      };
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
  const get = fieldReader(spec.path, spec.alsoPaths).raw;
  if (spec.kind.kind === "exists") {
    if (typeof raw !== "boolean") throw new RuleSyntaxError(`'${spec.key}': 'exists' takes true or false`);
    const expected = raw;
    return (doc) => !isAbsent(get(doc)) === expected;
  }
  const values = normaliseValues(spec, raw);
  if (spec.all && values.length === 1)
    throw new RuleSyntaxError(`'${spec.key}': '|all' needs a list of two or more values`);
  const { tests, matchAbsent } = compileValues(spec, values);

  if (spec.all) {
    if (values.includes(null))
      throw new RuleSyntaxError(`'${spec.key}': null cannot be combined with '|all'`);
    return (doc) => {
      if (isAbsent(get(doc))) return false;
      for (const test of tests) if (!test(doc)) return false;
      return true;
    };
  }
  if (tests.length === 0) return (doc) => isAbsent(get(doc));
  if (tests.length === 1) {
    const [test] = tests;
    return (doc) => (isAbsent(get(doc)) ? matchAbsent : test(doc));
  }
  return (doc) => {
    if (isAbsent(get(doc))) return matchAbsent;
    for (const test of tests) if (test(doc)) return true;
    return false;
  };
}
