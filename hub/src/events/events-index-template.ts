// The composable index template the events writer installs for the data
// stream vigil-events: the ECS fields of Vigil's event documents (toEcsDocument).
// dynamic: false keeps stray fields in _source without growing the mapping;
// the command line is a keyword (exact, sortable) with a .text sub-field for
// free-text search; vigil.* is flattened.

import type { estypes } from "@elastic/elasticsearch";
import type { AlertsRetention } from "../sinks/index-template";

export const EVENTS_DATA_STREAM = "vigil-events";
export const EVENTS_INDEX_TEMPLATE_NAME = "vigil-events";
/** Bump when the mappings change; stored as the template's version for operators. */
export const EVENTS_INDEX_TEMPLATE_VERSION = 1;

type Mapping = estypes.MappingProperty;

const keyword: Mapping = { type: "keyword", ignore_above: 1024 };
const long: Mapping = { type: "long" };
const date: Mapping = { type: "date" };
const ip: Mapping = { type: "ip" };
const text: estypes.MappingMatchOnlyTextProperty = { type: "match_only_text" };
const keywordWithText: Mapping = { ...keyword, fields: { text } };
/** Command lines can be long; keep up to 8 KiB as a keyword, all of it as text. */
const commandLine: Mapping = { type: "keyword", ignore_above: 8192, fields: { text } };

function object(properties: Record<string, Mapping>): Mapping {
  return { properties };
}

function userFields(): Record<string, Mapping> {
  return {
    id: keyword,
    name: keyword,
    group: object({ id: keyword, name: keyword }),
    effective: object({ id: keyword, name: keyword }),
    changes: object({ id: keyword, name: keyword }),
  };
}

function processFields(): Record<string, Mapping> {
  return {
    pid: long,
    entity_id: keyword,
    name: keyword,
    executable: keywordWithText,
    exec_filename: keywordWithText,
    command_line: commandLine,
    args: keyword,
    args_count: long,
  };
}

export const EVENTS_MAPPINGS: estypes.MappingTypeMapping = {
  dynamic: false,
  properties: {
    "@timestamp": date,
    event: object({
      id: keyword,
      kind: keyword,
      category: keyword,
      type: keyword,
      action: keyword,
      outcome: keyword,
      module: keyword,
      dataset: keyword,
      sequence: long,
      ingested: date,
    }),
    host: object({
      id: keyword,
      name: keyword,
      hostname: keyword,
      architecture: keyword,
      ip,
      os: object({ type: keyword, name: keyword, version: keyword, kernel: keyword }),
    }),
    agent: object({ id: keyword, type: keyword, version: keyword }),
    process: object({
      ...processFields(),
      working_directory: keyword,
      start: date,
      exit_code: long,
      session_leader: object({ pid: long }),
      tty: object({ name: keyword }),
      user: object(userFields()),
      hash: object({ sha256: keyword }),
      login_user: object({ id: keyword, name: keyword }),
      login_session_id: long,
      parent: object({ ...processFields(), parent: object(processFields()) }),
    }),
    user: object(userFields()),
    source: object({ ip, port: long, address: keyword }),
    destination: object({ ip, port: long, address: keyword }),
    network: object({ transport: keyword, type: keyword, direction: keyword }),
    file: object({
      path: keywordWithText,
      name: keyword,
      directory: keyword,
      extension: keyword,
      flags: keyword,
      mode: keyword,
    }),
    container: object({ id: keyword, runtime: keyword }),
    vigil: { type: "flattened" },
  },
};

/** Body of PUT _index_template/vigil-events, with how long ES keeps events. */
export function eventsIndexTemplate(
  retention: AlertsRetention = {},
): Omit<estypes.IndicesPutIndexTemplateRequest, "name"> {
  const template: estypes.IndicesPutIndexTemplateIndexTemplateMapping = { mappings: EVENTS_MAPPINGS };
  if (retention.retention) template.lifecycle = { enabled: true, data_retention: retention.retention };
  if (retention.ilmPolicy) {
    template.settings = { index: { lifecycle: { name: retention.ilmPolicy, prefer_ilm: true } } };
  }
  return {
    index_patterns: [`${EVENTS_DATA_STREAM}*`],
    data_stream: {},
    priority: 500,
    version: EVENTS_INDEX_TEMPLATE_VERSION,
    template,
    _meta: { managed_by: "vigil-hub", description: "Vigil events kept for investigation (ECS)" },
  };
}
