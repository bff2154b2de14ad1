// Reads alerts back from the Elasticsearch data stream the hubs write
// (vigil-alerts), for the server's GET /api/v1/alerts in distributed mode.
// Beside the hub's Elasticsearch sink, not in common: the agent, which
// shares common, must not load the Elasticsearch client.
// Same AlertSearch semantics as the SQLite store: filters in a bool filter
// (no scoring), newest first by @timestamp then event.id (the alert id), and
// keyset paging with search_after.

import { Client } from "@elastic/elasticsearch";
import {
  type AlertPage,
  type AlertReader,
  type AlertSearch,
  decodeAlertCursor,
  type EcsDocument,
  ErrorCodes,
  encodeAlertCursor,
  MAX_ALERT_PAGE_SIZE,
  SEVERITY_BY_LEVEL,
  VigilError,
} from "@vigil/common";
import { describeEsError } from "../sinks/describe-es-error";
import { type ElasticsearchConnection, elasticsearchConnectionOptions } from "../sinks/elasticsearch-config";

export interface ElasticsearchAlertReaderConfig extends ElasticsearchConnection {
  /** Data stream (or pattern) searched. */
  dataStream: string;
}

/** Totals are counted exactly up to this many; beyond it the page says "at least". */
export const ALERT_TOTAL_COUNT_BOUND = 10_000;

/** The keyword fields free text is matched in, as a case-insensitive substring. */
const TEXT_WILDCARD_FIELDS = ["rule.name", "host.name", "process.command_line"] as const;

export class ElasticsearchAlertReader implements AlertReader {
  private readonly client: Client;

  constructor(private readonly config: ElasticsearchAlertReaderConfig) {
    const options = elasticsearchConnectionOptions(config, {
      name: "vigil-server-alerts",
      maxRetries: 1,
      configKey: "alerts.elasticsearch",
    });
    this.client = new Client(options);
  }

  async search(search: AlertSearch): Promise<AlertPage> {
    const size = Math.max(1, Math.min(Math.trunc(search.size), MAX_ALERT_PAGE_SIZE));
    const after = search.cursor === undefined ? undefined : decodeAlertCursor(search.cursor);
    let response: Awaited<ReturnType<Client["search"]>>;
    try {
      response = await this.client.search({
        index: this.config.dataStream,
        ignore_unavailable: true,
        allow_no_indices: true,
        size: size + 1,
        track_total_hits: ALERT_TOTAL_COUNT_BOUND,
        query: { bool: { filter: alertFilters(search) } },
        sort: [{ "@timestamp": { order: "desc" } }, { "event.id": { order: "desc" } }],
        ...(after ? { search_after: [after.time, after.id] } : {}),
      });
    } catch (error) {
      throw new VigilError(
        ErrorCodes.ALERT_QUERY,
        `Elasticsearch (${this.config.dataStream}) did not answer the alert search: ${describeEsError(error)}`,
        { cause: error },
      );
    }
    const hits = response.hits.hits;
    const page = hits.slice(0, size);
    const total = response.hits.total;
    const last = page[page.length - 1];
    const lastSort = last?.sort;
    return {
      alerts: page.map((hit) => hit._source as EcsDocument),
      total: typeof total === "number" ? total : (total?.value ?? 0),
      totalExact: typeof total === "number" || total?.relation !== "gte",
      nextCursor:
        hits.length > size && lastSort && typeof lastSort[0] === "number"
          ? encodeAlertCursor({ time: lastSort[0], id: String(lastSort[1] ?? "") })
          : null,
    };
  }

  async get(alertId: string): Promise<EcsDocument | undefined> {
    try {
      const response = await this.client.search({
        index: this.config.dataStream,
        ignore_unavailable: true,
        allow_no_indices: true,
        size: 1,
        query: { ids: { values: [alertId] } },
      });
      return response.hits.hits[0]?._source as EcsDocument | undefined;
    } catch (error) {
      throw new VigilError(
        ErrorCodes.ALERT_QUERY,
        `Elasticsearch (${this.config.dataStream}) did not answer the alert lookup: ${describeEsError(error)}`,
        { cause: error },
      );
    }
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}

type QueryClause = Record<string, unknown>;

/** The bool filter clauses for a search (exported for the query-shape test). */
export function alertFilters(search: AlertSearch): QueryClause[] {
  const filters: QueryClause[] = [];
  if (search.sinceUs !== undefined || search.untilUs !== undefined) {
    const range: Record<string, unknown> = { format: "epoch_millis" };
    if (search.sinceUs !== undefined) range.gte = Math.floor(search.sinceUs / 1000);
    if (search.untilUs !== undefined) range.lt = Math.ceil(search.untilUs / 1000);
    filters.push({ range: { "@timestamp": range } });
  }
  if (search.minLevel !== undefined) {
    filters.push({ range: { "event.severity": { gte: SEVERITY_BY_LEVEL[search.minLevel] } } });
  }
  if (search.levels !== undefined && search.levels.length > 0) {
    filters.push({ terms: { "event.severity": search.levels.map((level) => SEVERITY_BY_LEVEL[level]) } });
  }
  if (search.ruleId !== undefined) filters.push({ term: { "rule.id": search.ruleId } });
  if (search.hostName !== undefined) filters.push({ term: { "host.name": search.hostName } });
  if (search.text !== undefined && search.text !== "") {
    const pattern = `*${search.text.replace(/[\\*?]/g, "\\$&")}*`;
    filters.push({
      bool: {
        should: [
          ...TEXT_WILDCARD_FIELDS.map((field) => ({
            wildcard: { [field]: { value: pattern, case_insensitive: true } },
          })),
          { match_phrase: { message: search.text } },
        ],
        minimum_should_match: 1,
      },
    });
  }
  return filters;
}
