// Validates the descriptive half of a Sigma rule: everything but `detection`.

import { RuleSyntaxError } from "./rule-error";
import { LOGSOURCE_CATEGORIES, type Logsource, type LogsourceCategory, type RuleMetadata } from "./types";
import { isMap, yamlFields } from "./yaml-fields";

const fields = yamlFields(RuleSyntaxError);

function parseLogsource(raw: unknown): Logsource {
  if (!isMap(raw)) throw new RuleSyntaxError("logsource: missing or not a map");
  if (raw.product !== "linux") {
    throw new RuleSyntaxError(
      `logsource.product: '${String(raw.product)}' is not supported (Vigil rules are 'linux')`,
    );
  }
  const category = fields.oneOf<LogsourceCategory>(raw.category, "logsource.category", LOGSOURCE_CATEGORIES);
  const service = raw.service;
  if (service !== undefined && typeof service !== "string")
    throw new RuleSyntaxError("logsource.service: must be a string");
  return { product: "linux", category, service };
}

/** The rule id if it can be read at all, for error messages about the rest. */
export function peekRuleId(raw: unknown): string | undefined {
  return isMap(raw) && typeof raw.id === "string" ? raw.id : undefined;
}

export function parseMetadata(raw: Record<string, unknown>): RuleMetadata {
  return {
    ...fields.header(raw),
    logsource: parseLogsource(raw.logsource),
    date: fields.date(raw.date, "date"),
    modified: fields.date(raw.modified, "modified"),
  };
}
