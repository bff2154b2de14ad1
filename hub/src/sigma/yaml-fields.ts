// Readers for the fields of a rule's YAML map, shared by the Sigma rule parser
// (parse-metadata.ts) and the correlation parser so that both refuse a bad
// field by the same rules and in the same words. Each parser binds them to its
// own error class, which its caller catches and puts the file and rule id on.

import { attackFromTags } from "./attack";
import { RULE_LEVELS, RULE_STATUSES, type RuleLevel, type RuleMetadata, type RuleStatus } from "./types";

/** The error a parser throws for a bad field; the message names the field. */
export type SyntaxErrorClass = new (message: string) => Error;

/** The descriptive fields Sigma rules and correlation rules have in common. */
export type RuleHeader = Pick<
  RuleMetadata,
  | "id"
  | "title"
  | "status"
  | "description"
  | "author"
  | "references"
  | "tags"
  | "techniques"
  | "tactics"
  | "level"
  | "falsepositives"
>;

export interface YamlFields {
  /** A string; `required` also refuses a missing or blank one. Absent and optional: "". */
  text(value: unknown, where: string, required: boolean): string;
  /** A list of strings; a lone string is a list of one (common in falsepositives). */
  textList(value: unknown, where: string, options?: { nonEmpty?: boolean }): string[];
  /** One of `allowed`; absent gives `fallback`, or is refused when there is none. */
  oneOf<T extends string>(value: unknown, where: string, allowed: readonly T[], fallback?: T): T;
  /** A date like 2025-03-02 (or 2025/03/02, or a YAML date), as YYYY-MM-DD; absent: undefined. */
  date(value: unknown, where: string): string | undefined;
  /** id, title, status, level, tags and the other descriptive fields; `level` defaults to `levelFallback`. */
  header(raw: Record<string, unknown>, levelFallback?: RuleLevel): RuleHeader;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const TAG = /^[a-z0-9_-]+\.[a-z0-9._-]+$/i;
const DATE = /^(\d{4})[-/](\d{2})[-/](\d{2})$/;
const MAX_TITLE = 256;

export function isMap(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function absent(value: unknown): value is undefined | null {
  return value === undefined || value === null;
}

/** The field readers, throwing `Failure` with a message that starts with the field's name. */
export function yamlFields(Failure: SyntaxErrorClass): YamlFields {
  function text(value: unknown, where: string, required: boolean): string {
    if (absent(value)) {
      if (required) throw new Failure(`${where}: missing`);
      return "";
    }
    if (typeof value !== "string") throw new Failure(`${where}: must be a string`);
    if (required && value.trim() === "") throw new Failure(`${where}: must not be empty`);
    return value;
  }

  function textList(value: unknown, where: string, options: { nonEmpty?: boolean } = {}): string[] {
    if (absent(value)) return [];
    const list = typeof value === "string" ? [value] : value;
    if (!Array.isArray(list)) throw new Failure(`${where}: must be a list of strings`);
    return list.map((item, i) => {
      if (typeof item !== "string") throw new Failure(`${where}[${i}]: must be a string`);
      if (options.nonEmpty === true && item === "") throw new Failure(`${where}[${i}]: must not be empty`);
      return item;
    });
  }

  function oneOf<T extends string>(value: unknown, where: string, allowed: readonly T[], fallback?: T): T {
    if (absent(value)) {
      if (fallback !== undefined) return fallback;
      throw new Failure(`${where}: missing (one of ${allowed.join(", ")})`);
    }
    if (typeof value !== "string" || !(allowed as readonly string[]).includes(value)) {
      throw new Failure(`${where}: '${String(value)}' is not supported (one of ${allowed.join(", ")})`);
    }
    return value as T;
  }

  function date(value: unknown, where: string): string | undefined {
    if (absent(value)) return undefined;
    // YAML turns an unquoted 2025-03-02 into a Date already.
    if (value instanceof Date && !Number.isNaN(value.getTime())) return value.toISOString().slice(0, 10);
    const m = typeof value === "string" ? DATE.exec(value) : null;
    if (m !== null) {
      const normalised = `${m[1]}-${m[2]}-${m[3]}`;
      const parsed = new Date(`${normalised}T00:00:00Z`);
      // A round trip refuses days that do not exist (2025-02-30).
      if (!Number.isNaN(parsed.getTime()) && parsed.toISOString().startsWith(normalised)) return normalised;
    }
    throw new Failure(`${where}: '${String(value)}' is not a date like 2025-03-02`);
  }

  function header(raw: Record<string, unknown>, levelFallback?: RuleLevel): RuleHeader {
    const id = text(raw.id, "id", true);
    if (!UUID.test(id)) throw new Failure(`id: '${id}' is not a UUID`);
    const title = text(raw.title, "title", true);
    if (title.length > MAX_TITLE) throw new Failure(`title: longer than ${MAX_TITLE} characters`);
    const tags = textList(raw.tags, "tags");
    tags.forEach((tag, i) => {
      if (!TAG.test(tag)) throw new Failure(`tags[${i}]: '${tag}' is not namespace.value`);
    });
    const { techniques, tactics } = attackFromTags(tags);
    return {
      id: id.toLowerCase(),
      title,
      status: oneOf<RuleStatus>(raw.status, "status", RULE_STATUSES, "experimental"),
      description: text(raw.description, "description", false),
      author: text(raw.author, "author", false),
      references: textList(raw.references, "references"),
      tags,
      techniques,
      tactics,
      level: oneOf<RuleLevel>(raw.level, "level", RULE_LEVELS, levelFallback),
      falsepositives: textList(raw.falsepositives, "falsepositives"),
    };
  }

  return { text, textList, oneOf, date, header };
}
