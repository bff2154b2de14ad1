// Validates one correlation rule document (a YAML map with a `correlation`
// section). References to other rules are resolved later, against the whole
// ruleset (compile-rule-sources.ts).

import { isMap, yamlFields } from "../sigma/yaml-fields";
import { parseTimespan } from "./timespan";
import {
  CONDITION_OPERATORS,
  CORRELATION_TYPES,
  type ConditionOperator,
  type CorrelationType,
  type CountCondition,
  type ParsedCorrelation,
} from "./types";

/** Thrown by the parser; the caller adds the file and rule id. */
export class CorrelationSyntaxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CorrelationSyntaxError";
  }
}

/**
 * Highest count a counting window may need: the window keeps one entry per
 * counted event (or value), and the whole window is one KV value.
 */
export const MAX_CORRELATION_THRESHOLD = 1000;

const NAME = /^[A-Za-z0-9_.-]{1,128}$/;
const CORRELATION_KEYS = new Set([
  "type",
  "rules",
  "group-by",
  "timespan",
  "condition",
  "aliases",
  "generate",
]);

const fields = yamlFields(CorrelationSyntaxError);

/** A YAML map is a correlation rule when it has a `correlation` key. */
export function isCorrelationDocument(raw: unknown): raw is Record<string, unknown> {
  return isMap(raw) && raw.correlation !== undefined;
}

function parseCondition(
  raw: unknown,
  type: CorrelationType,
  ruleCount: number,
): { condition: CountCondition; field: string | undefined } {
  const temporal = type === "temporal" || type === "temporal_ordered";
  if (raw === undefined || raw === null) {
    if (temporal) return { condition: { gte: ruleCount }, field: undefined };
    throw new CorrelationSyntaxError("correlation.condition: missing (e.g. gte: 10)");
  }
  if (!isMap(raw))
    throw new CorrelationSyntaxError("correlation.condition: must be a map such as { gte: 10 }");
  if (type === "temporal_ordered") {
    throw new CorrelationSyntaxError(
      "correlation.condition: not supported for temporal_ordered (every rule must match, in order)",
    );
  }
  const condition: CountCondition = {};
  let field: string | undefined;
  for (const [key, value] of Object.entries(raw)) {
    if (key === "field") {
      if (type !== "value_count") {
        throw new CorrelationSyntaxError(`correlation.condition.field: only value_count counts a field`);
      }
      if (typeof value !== "string" || value === "") {
        throw new CorrelationSyntaxError("correlation.condition.field: must be a field name");
      }
      field = value;
      continue;
    }
    if (!(CONDITION_OPERATORS as readonly string[]).includes(key)) {
      throw new CorrelationSyntaxError(
        `correlation.condition.${key}: unknown (one of ${CONDITION_OPERATORS.join(", ")}${type === "value_count" ? ", field" : ""})`,
      );
    }
    if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
      throw new CorrelationSyntaxError(`correlation.condition.${key}: must be a whole number ≥ 0`);
    }
    condition[key as ConditionOperator] = value;
  }
  if (type === "value_count" && field === undefined) {
    throw new CorrelationSyntaxError(
      "correlation.condition.field: missing (value_count counts the distinct values of this field)",
    );
  }
  return { condition, field };
}

/** Reduces a condition to [threshold, ceiling]: a window fires when its count rises to the threshold. */
export function conditionBounds(
  condition: CountCondition,
  type: CorrelationType,
  ruleCount: number,
): { threshold: number; ceiling: number } {
  const lows: number[] = [];
  const highs: number[] = [];
  if (condition.gt !== undefined) lows.push(condition.gt + 1);
  if (condition.gte !== undefined) lows.push(condition.gte);
  if (condition.eq !== undefined) {
    lows.push(condition.eq);
    highs.push(condition.eq);
  }
  if (condition.lt !== undefined) highs.push(condition.lt - 1);
  if (condition.lte !== undefined) highs.push(condition.lte);
  if (lows.length === 0) {
    throw new CorrelationSyntaxError(
      "correlation.condition: needs gt, gte or eq (Vigil fires when a count rises to it; a count that must only stay below a bound would be decided at the window's end, which a streaming engine does not have)",
    );
  }
  const threshold = Math.max(...lows);
  const ceiling = highs.length > 0 ? Math.min(...highs) : Number.MAX_SAFE_INTEGER;
  if (threshold < 1)
    throw new CorrelationSyntaxError("correlation.condition: the count must reach at least 1");
  if (ceiling < threshold) throw new CorrelationSyntaxError("correlation.condition: can never be met");
  const temporal = type === "temporal" || type === "temporal_ordered";
  if (temporal && threshold > ruleCount) {
    throw new CorrelationSyntaxError(
      `correlation.condition: needs ${threshold} different rules, but only ${ruleCount} are listed`,
    );
  }
  if (!temporal && threshold > MAX_CORRELATION_THRESHOLD) {
    throw new CorrelationSyntaxError(
      `correlation.condition: a count above ${MAX_CORRELATION_THRESHOLD} is not supported (windows keep one entry per counted event)`,
    );
  }
  return { threshold, ceiling };
}

function parseAliases(raw: unknown): Record<string, Record<string, string>> {
  if (raw === undefined || raw === null) return {};
  if (!isMap(raw))
    throw new CorrelationSyntaxError("correlation.aliases: must be a map of alias → { rule: field }");
  const aliases: Record<string, Record<string, string>> = {};
  for (const [alias, perRule] of Object.entries(raw)) {
    if (!isMap(perRule))
      throw new CorrelationSyntaxError(`correlation.aliases.${alias}: must be a map of rule → field`);
    aliases[alias] = {};
    for (const [rule, field] of Object.entries(perRule)) {
      if (typeof field !== "string" || field === "") {
        throw new CorrelationSyntaxError(`correlation.aliases.${alias}.${rule}: must be a field name`);
      }
      aliases[alias][rule] = field;
    }
  }
  return aliases;
}

function parseGenerate(raw: Record<string, unknown>, section: Record<string, unknown>): boolean {
  const value = section.generate ?? raw.generate;
  if (value === undefined || value === null) return false;
  if (typeof value !== "boolean") throw new CorrelationSyntaxError("generate: must be true or false");
  return value;
}

/** Validates a correlation document; throws CorrelationSyntaxError naming the key. */
export function parseCorrelation(raw: Record<string, unknown>, source: string): ParsedCorrelation {
  const header = fields.header(raw, "medium");
  const name = raw.name === undefined ? undefined : fields.text(raw.name, "name", true);
  if (name !== undefined && !NAME.test(name)) {
    throw new CorrelationSyntaxError(`name: '${name}' must be 1-128 characters of A-Z a-z 0-9 _ . -`);
  }
  if (raw.detection !== undefined || raw.logsource !== undefined) {
    throw new CorrelationSyntaxError(
      "a correlation rule has no detection or logsource (put the base rule in its own YAML document)",
    );
  }
  const section = raw.correlation;
  if (!isMap(section)) throw new CorrelationSyntaxError("correlation: must be a map");
  for (const key of Object.keys(section)) {
    if (!CORRELATION_KEYS.has(key)) {
      throw new CorrelationSyntaxError(
        `correlation.${key}: unknown (one of ${[...CORRELATION_KEYS].join(", ")})`,
      );
    }
  }
  const type = fields.oneOf<CorrelationType>(section.type, "correlation.type", CORRELATION_TYPES);
  const rules = fields.textList(section.rules, "correlation.rules", { nonEmpty: true });
  if (rules.length === 0)
    throw new CorrelationSyntaxError("correlation.rules: missing (the rules to correlate)");
  if ((type === "temporal" || type === "temporal_ordered") && rules.length < 2) {
    throw new CorrelationSyntaxError(`correlation.rules: ${type} needs at least two rules`);
  }
  if (type === "temporal" && new Set(rules).size !== rules.length) {
    throw new CorrelationSyntaxError("correlation.rules: a rule is listed twice");
  }
  const groupBy = fields.textList(section["group-by"], "correlation.group-by", { nonEmpty: true });
  if (new Set(groupBy).size !== groupBy.length) {
    throw new CorrelationSyntaxError("correlation.group-by: a field is listed twice");
  }
  if (section.timespan === undefined)
    throw new CorrelationSyntaxError("correlation.timespan: missing (e.g. 5m)");
  const timespan = parseTimespan(section.timespan);
  if (!timespan.ok) throw new CorrelationSyntaxError(`correlation.timespan: ${timespan.reason}`);
  const { condition, field } = parseCondition(section.condition, type, rules.length);
  conditionBounds(condition, type, new Set(rules).size);
  return {
    ...header,
    name,
    type,
    rules,
    groupBy,
    timespanMs: timespan.ms,
    condition,
    field,
    aliases: parseAliases(section.aliases),
    generate: parseGenerate(raw, section),
    source,
  };
}
