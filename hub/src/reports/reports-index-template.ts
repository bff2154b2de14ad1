// The index vigil-reports (distributed mode): one document per report, keyed
// by its id "<level>/<scope>/<period start>", and one per AI analysis beside
// it ("<report id>#analysis", "alert/<alert id>#analysis"). Only what the API
// filters and sorts on is indexed; the report itself is kept in _source.

import type { estypes } from "@elastic/elasticsearch";

export const REPORTS_INDEX = "vigil-reports";
export const REPORTS_INDEX_TEMPLATE_NAME = "vigil-reports";
/** Bumped whenever the mappings change. */
export const REPORTS_INDEX_TEMPLATE_VERSION = 1;

const keyword: estypes.MappingProperty = { type: "keyword", ignore_above: 1024 };
const date: estypes.MappingProperty = { type: "date" };
const kept: estypes.MappingProperty = { type: "object", enabled: false };

export const REPORTS_MAPPINGS: estypes.MappingTypeMapping = {
  dynamic: false,
  properties: {
    /** "report", "analysis" or "alert-analysis". */
    kind: keyword,
    level: { type: "byte" },
    scope: keyword,
    start: date,
    end: date,
    label: keyword,
    generated_at: date,
    alert_id: keyword,
    report: kept,
    analysis: kept,
  },
};

/** Body of PUT _index_template/vigil-reports. */
export function reportsIndexTemplate(): Omit<estypes.IndicesPutIndexTemplateRequest, "name"> {
  return {
    index_patterns: [`${REPORTS_INDEX}*`],
    priority: 500,
    version: REPORTS_INDEX_TEMPLATE_VERSION,
    template: { settings: { number_of_shards: 1 }, mappings: REPORTS_MAPPINGS },
    _meta: { managed_by: "vigil-hub", description: "Vigil tiered reports and their AI analyses" },
  };
}
