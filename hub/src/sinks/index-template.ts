// The composable index template the hub installs for the alerts data stream.
// Mappings cover the ECS fields Vigil alerts carry; dynamic: false keeps stray
// fields in _source without growing the mapping (no mapping explosions), and
// vigil.* is flattened so Vigil-specific context stays searchable by key.

import type { estypes } from "@elastic/elasticsearch";

export const ALERTS_DATA_STREAM = "vigil-alerts";
export const ALERTS_INDEX_TEMPLATE_NAME = "vigil-alerts";
/** Bump when the mappings change; stored as the template's version for operators. */
export const ALERTS_INDEX_TEMPLATE_VERSION = 3;

type Mapping = estypes.MappingProperty;

const keyword: Mapping = { type: "keyword", ignore_above: 1024 };
const long: Mapping = { type: "long" };
const date: Mapping = { type: "date" };
const ip: Mapping = { type: "ip" };
const text: estypes.MappingMatchOnlyTextProperty = { type: "match_only_text" };
/** keyword for aggregations plus a .text sub-field for full-text search (ECS multi-field). */
const keywordWithText: Mapping = { ...keyword, fields: { text } };
/** ECS maps command lines as wildcard so analysts can search substrings. */
const commandLine: Mapping = { type: "wildcard", fields: { text } };

function object(properties: Record<string, Mapping>): Mapping {
  return { properties };
}

function processFields(): Record<string, Mapping> {
  return {
    pid: long,
    entity_id: keyword,
    name: keyword,
    executable: keywordWithText,
    // Vigil extension: the path the exec was given when it is not `executable` (FIELDS.md).
    exec_filename: keywordWithText,
    command_line: commandLine,
    args: keyword,
    args_count: long,
    working_directory: keyword,
    start: date,
    title: keyword,
    hash: object({ sha256: keyword }),
    user: object({ id: keyword, name: keyword }),
  };
}

export const ALERTS_MAPPINGS: estypes.MappingTypeMapping = {
  dynamic: false,
  properties: {
    "@timestamp": date,
    message: text,
    tags: keyword,
    labels: { type: "flattened" },
    ecs: object({ version: keyword }),
    event: object({
      kind: keyword,
      category: keyword,
      type: keyword,
      action: keyword,
      outcome: keyword,
      id: keyword,
      code: keyword,
      dataset: keyword,
      module: keyword,
      provider: keyword,
      severity: long,
      risk_score: { type: "float" },
      reason: text,
      created: date,
      ingested: date,
    }),
    rule: object({
      id: keyword,
      uuid: keyword,
      name: keywordWithText,
      description: text,
      version: keyword,
      category: keyword,
      ruleset: keyword,
      reference: keyword,
      author: keyword,
      license: keyword,
    }),
    host: object({
      id: keyword,
      name: keyword,
      hostname: keyword,
      ip,
      architecture: keyword,
      os: object({ family: keyword, name: keyword, version: keyword, kernel: keyword }),
    }),
    agent: object({ id: keyword, name: keyword, type: keyword, version: keyword }),
    // Ancestry: parent and grandparent (process.parent.parent) as the hub builds them.
    process: object({
      ...processFields(),
      parent: object({ ...processFields(), parent: object(processFields()) }),
    }),
    user: object({
      id: keyword,
      name: keyword,
      effective: object({ id: keyword, name: keyword }),
    }),
    group: object({ id: keyword, name: keyword }),
    source: object({ ip, port: long }),
    destination: object({ ip, port: long, domain: keyword }),
    network: object({ transport: keyword, protocol: keyword, direction: keyword }),
    dns: object({ question: object({ name: keyword, type: keyword }) }),
    file: object({
      path: keywordWithText,
      name: keyword,
      directory: keyword,
      extension: keyword,
      // Octal permission bits as text ("4755"), as ECS has it.
      mode: keyword,
      flags: keyword,
      target_path: keywordWithText,
      hash: object({ sha256: keyword }),
    }),
    container: object({ id: keyword, name: keyword, image: object({ name: keyword }) }),
    threat: object({
      framework: keyword,
      tactic: object({ id: keyword, name: keyword, reference: keyword }),
      technique: object({
        id: keyword,
        name: keywordWithText,
        reference: keyword,
        subtechnique: object({ id: keyword, name: keywordWithText, reference: keyword }),
      }),
    }),
    vigil: { type: "flattened" },
  },
};

export interface AlertsRetention {
  /** Data stream lifecycle retention, e.g. "90d". */
  retention?: string;
  /** Existing ILM policy; takes precedence over `retention` (index.lifecycle.prefer_ilm). */
  ilmPolicy?: string;
}

/** Body of PUT _index_template/vigil-alerts, with how long ES keeps alerts. */
export function alertsIndexTemplate(
  retention: AlertsRetention = {},
): Omit<estypes.IndicesPutIndexTemplateRequest, "name"> {
  const template: estypes.IndicesPutIndexTemplateIndexTemplateMapping = { mappings: ALERTS_MAPPINGS };
  if (retention.retention) template.lifecycle = { enabled: true, data_retention: retention.retention };
  if (retention.ilmPolicy) {
    template.settings = { index: { lifecycle: { name: retention.ilmPolicy, prefer_ilm: true } } };
  }
  return {
    index_patterns: [`${ALERTS_DATA_STREAM}*`],
    data_stream: {},
    priority: 500,
    version: ALERTS_INDEX_TEMPLATE_VERSION,
    template,
    _meta: { managed_by: "vigil-hub", description: "Vigil alerts (ECS, event.kind: alert)" },
  };
}

/** The template with no retention set: alerts are kept until an operator deletes them. */
export const ALERTS_INDEX_TEMPLATE = alertsIndexTemplate();
