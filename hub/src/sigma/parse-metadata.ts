// Validates the descriptive half of a Sigma rule: everything but `detection`.

import { attackFromTags } from "./attack";
import { RuleSyntaxError } from "./rule-error";
import {
  LOGSOURCE_CATEGORIES,
  type Logsource,
  type LogsourceCategory,
  RULE_LEVELS,
  RULE_STATUSES,
  type RuleLevel,
  type RuleMetadata,
  type RuleStatus,
} from "./types";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const TAG = /^[a-z0-9_-]+\.[a-z0-9._-]+$/i;

function isMap(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function text(raw: Record<string, unknown>, key: string, required: boolean): string {
  const value = raw[key];
  if (value === undefined || value === null) {
    if (required) throw new RuleSyntaxError(`${key}: missing`);
    return "";
  }
  if (typeof value !== "string") throw new RuleSyntaxError(`${key}: must be a string`);
  if (required && value.trim() === "") throw new RuleSyntaxError(`${key}: must not be empty`);
  return value;
}

/** A list of strings; a lone string is accepted as a list of one (common in falsepositives). */
function textList(raw: Record<string, unknown>, key: string): string[] {
  const value = raw[key];
  if (value === undefined || value === null) return [];
  const list = typeof value === "string" ? [value] : value;
  if (!Array.isArray(list)) throw new RuleSyntaxError(`${key}: must be a list of strings`);
  return list.map((item, i) => {
    if (typeof item !== "string") throw new RuleSyntaxError(`${key}[${i}]: must be a string`);
    return item;
  });
}

function oneOf<T extends string>(
  raw: Record<string, unknown>,
  key: string,
  allowed: readonly T[],
  fallback?: T,
): T {
  const value = raw[key];
  if ((value === undefined || value === null) && fallback !== undefined) return fallback;
  if (value === undefined || value === null)
    throw new RuleSyntaxError(`${key}: missing (one of ${allowed.join(", ")})`);
  if (typeof value !== "string" || !(allowed as readonly string[]).includes(value)) {
    throw new RuleSyntaxError(`${key}: '${String(value)}' is not one of ${allowed.join(", ")}`);
  }
  return value as T;
}

function parseLogsource(raw: unknown): Logsource {
  if (!isMap(raw)) throw new RuleSyntaxError("logsource: missing or not a map");
  if (raw.product !== "linux") {
    throw new RuleSyntaxError(
      `logsource.product: '${String(raw.product)}' is not supported (Vigil rules are 'linux')`,
    );
  }
  const category = raw.category;
  if (typeof category !== "string" || !(LOGSOURCE_CATEGORIES as readonly string[]).includes(category)) {
    const got = category === undefined ? "missing" : `'${String(category)}' is not supported`;
    throw new RuleSyntaxError(`logsource.category: ${got} (one of ${LOGSOURCE_CATEGORIES.join(", ")})`);
  }
  const service = raw.service;
  if (service !== undefined && typeof service !== "string")
    throw new RuleSyntaxError("logsource.service: must be a string");
  return { product: "linux", category: category as LogsourceCategory, service };
}

const DATE = /^(\d{4})[-/](\d{2})[-/](\d{2})$/;

/**
 * Sigma dates are `YYYY-MM-DD` (older rules: `YYYY/MM/DD`). YAML may already have
 * turned an unquoted date into a Date, which is accepted too.
 */
function dateField(raw: Record<string, unknown>, key: string): string | undefined {
  const value = raw[key];
  if (value === undefined || value === null) return undefined;
  if (value instanceof Date && !Number.isNaN(value.getTime())) return value.toISOString().slice(0, 10);
  const m = typeof value === "string" ? DATE.exec(value) : null;
  if (m !== null) {
    const normalised = `${m[1]}-${m[2]}-${m[3]}`;
    const parsed = new Date(`${normalised}T00:00:00Z`);
    if (!Number.isNaN(parsed.getTime()) && parsed.toISOString().startsWith(normalised)) return normalised;
  }
  throw new RuleSyntaxError(`${key}: '${String(value)}' is not a date like 2025-03-02`);
}

/** The rule id if it can be read at all, for error messages about the rest. */
export function peekRuleId(raw: unknown): string | undefined {
  return isMap(raw) && typeof raw.id === "string" ? raw.id : undefined;
}

export function parseMetadata(raw: Record<string, unknown>): RuleMetadata {
  const id = text(raw, "id", true);
  if (!UUID.test(id)) throw new RuleSyntaxError(`id: '${id}' is not a UUID`);
  const title = text(raw, "title", true);
  if (title.length > 256) throw new RuleSyntaxError("title: longer than 256 characters");
  const tags = textList(raw, "tags");
  tags.forEach((tag, i) => {
    if (!TAG.test(tag)) throw new RuleSyntaxError(`tags[${i}]: '${tag}' is not namespace.value`);
  });
  const { techniques, tactics } = attackFromTags(tags);
  return {
    id: id.toLowerCase(),
    title,
    status: oneOf<RuleStatus>(raw, "status", RULE_STATUSES, "experimental"),
    description: text(raw, "description", false),
    author: text(raw, "author", false),
    references: textList(raw, "references"),
    tags,
    techniques,
    tactics,
    level: oneOf<RuleLevel>(raw, "level", RULE_LEVELS),
    logsource: parseLogsource(raw.logsource),
    falsepositives: textList(raw, "falsepositives"),
    date: dateField(raw, "date"),
    modified: dateField(raw, "modified"),
  };
}
