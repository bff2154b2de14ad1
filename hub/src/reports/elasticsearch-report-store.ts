// Reports in the Elasticsearch index vigil-reports (distributed mode): every
// hub and server sees the same reports. Written with refresh=wait_for, so a
// report is listed as soon as put() resolves (the generator reads children
// right after storing them).

import { Client, errors, type estypes } from "@elastic/elasticsearch";
import { ErrorCodes, VigilError } from "@vigil/common";
import { type ElasticsearchConnection, elasticsearchConnectionOptions } from "../sinks/elasticsearch-config";
import { reportId } from "./merge-reports";
import { periodOf, type ReportLevel } from "./periods";
import {
  ALERT_ID_PATTERN,
  type Analysis,
  MAX_REPORT_LIST,
  type ReportListQuery,
  type ReportStore,
  SCOPE_PATTERN,
} from "./report-store";
import { REPORTS_INDEX, REPORTS_INDEX_TEMPLATE_NAME, reportsIndexTemplate } from "./reports-index-template";
import { type Report, type ReportSummary, summaryOf } from "./types";

export interface ElasticsearchReportStoreConfig extends ElasticsearchConnection {
  index?: string;
}

interface ReportDocument {
  kind: "report" | "analysis" | "alert-analysis";
  level?: number;
  scope?: string;
  start?: string;
  end?: string;
  label?: string;
  generated_at?: string;
  alert_id?: string;
  report?: Report;
  analysis?: Analysis;
}

/** Most scopes one query returns per page (scopes pages on with search_after). */
const SCOPE_PAGE = 1000;

/** The documents of a report listing (exported for the request-shape test). */
export function listRequest(query: ReportListQuery): estypes.SearchRequest {
  const filter: estypes.QueryDslQueryContainer[] = [{ term: { kind: "report" } }];
  if (query.level !== undefined) filter.push({ term: { level: query.level } });
  if (query.scope !== undefined) filter.push({ term: { scope: query.scope } });
  if (query.fromMs !== undefined || query.toMs !== undefined) {
    const range: estypes.QueryDslDateRangeQuery = { format: "epoch_millis" };
    if (query.fromMs !== undefined) range.gte = String(query.fromMs);
    if (query.toMs !== undefined) range.lt = String(query.toMs);
    filter.push({ range: { start: range } });
  }
  return {
    size: Math.max(1, Math.min(query.limit, MAX_REPORT_LIST)),
    query: { bool: { filter } },
    sort: [{ start: { order: "desc" } }, { level: { order: "desc" } }, { scope: { order: "asc" } }],
  };
}

export class ElasticsearchReportStore implements ReportStore {
  readonly name = "elasticsearch";
  private readonly client: Client;
  private readonly index: string;
  private templateInstalled: Promise<void> | undefined;

  constructor(config: ElasticsearchReportStoreConfig) {
    this.index = config.index ?? REPORTS_INDEX;
    this.client = new Client(
      elasticsearchConnectionOptions(config, {
        name: "vigil-reports",
        maxRetries: 2,
        configKey: "elasticsearch",
      }),
    );
  }

  async put(report: Report): Promise<void> {
    await this.write(report.id, {
      kind: "report",
      level: report.level,
      scope: report.scope,
      start: report.period.start,
      end: report.period.end,
      label: report.period.label,
      generated_at: report.generatedAt,
      report,
    });
  }

  async get(level: ReportLevel, scope: string, startMs: number): Promise<Report | undefined> {
    return (await this.byId(reportId(level, checkScope(scope), startMs)))?.report;
  }

  async scopes(level: ReportLevel, fromMs: number, toMs: number): Promise<string[]> {
    const found = new Set<string>();
    let after: estypes.SortResults | undefined;
    for (;;) {
      const response = await this.search({
        size: SCOPE_PAGE,
        _source: false,
        query: {
          bool: {
            filter: [
              { term: { kind: "report" } },
              { term: { level } },
              {
                range: {
                  start: {
                    gte: String(periodOf(level, fromMs).startMs),
                    lt: String(toMs),
                    format: "epoch_millis",
                  },
                },
              },
            ],
          },
        },
        collapse: { field: "scope" },
        sort: [{ scope: { order: "asc" } }],
        ...(after ? { search_after: after } : {}),
      });
      const hits = response.hits.hits;
      for (const hit of hits) {
        const scope = hit.sort?.[0];
        if (typeof scope === "string") found.add(scope);
      }
      if (hits.length < SCOPE_PAGE) return [...found];
      after = hits[hits.length - 1]?.sort;
    }
  }

  async list(query: ReportListQuery): Promise<ReportSummary[]> {
    if (query.scope !== undefined) checkScope(query.scope);
    const response = await this.search(listRequest(query));
    const reports = response.hits.hits
      .map((hit) => (hit._source as ReportDocument | undefined)?.report)
      .filter((report): report is Report => report !== undefined);
    if (reports.length === 0) return [];
    const analysed = await this.search({
      size: reports.length,
      _source: false,
      query: { ids: { values: reports.map((report) => analysisId(report.id)) } },
    });
    const withAnalysis = new Set(analysed.hits.hits.map((hit) => hit._id));
    return reports.map((report) => summaryOf(report, withAnalysis.has(analysisId(report.id))));
  }

  async putAnalysis(level: ReportLevel, scope: string, startMs: number, analysis: Analysis): Promise<void> {
    const id = reportId(level, checkScope(scope), startMs);
    await this.write(analysisId(id), {
      kind: "analysis",
      level,
      scope,
      start: new Date(startMs).toISOString(),
      analysis,
    });
  }

  async getAnalysis(level: ReportLevel, scope: string, startMs: number): Promise<Analysis | undefined> {
    return (await this.byId(analysisId(reportId(level, checkScope(scope), startMs))))?.analysis;
  }

  async putAlertAnalysis(alertId: string, analysis: Analysis): Promise<void> {
    await this.write(analysisId(`alert/${checkAlertId(alertId)}`), {
      kind: "alert-analysis",
      alert_id: alertId,
      analysis,
    });
  }

  async getAlertAnalysis(alertId: string): Promise<Analysis | undefined> {
    return (await this.byId(analysisId(`alert/${checkAlertId(alertId)}`)))?.analysis;
  }

  async close(): Promise<void> {
    await this.client.close();
  }

  /** Installs the index template once, before the first write (the index is created by it). */
  private installTemplate(): Promise<void> {
    this.templateInstalled ??= this.client.indices
      .putIndexTemplate({ name: REPORTS_INDEX_TEMPLATE_NAME, ...reportsIndexTemplate() })
      .then(() => undefined)
      .catch((error: unknown) => {
        this.templateInstalled = undefined;
        throw failure("installing the index template", this.index, error);
      });
    return this.templateInstalled;
  }

  private async write(id: string, document: ReportDocument): Promise<void> {
    await this.installTemplate();
    let response: estypes.BulkResponse;
    try {
      response = await this.client.bulk({
        refresh: "wait_for",
        operations: [{ index: { _index: this.index, _id: id } }, document],
      });
    } catch (error) {
      throw failure(`storing ${id}`, this.index, error);
    }
    const item = response.items[0]?.index;
    if (response.errors || item?.error) {
      throw new VigilError(
        ErrorCodes.SINK_WRITE,
        `reports: Elasticsearch (${this.index}) refused ${id}: ${item?.error?.type ?? "error"}: ${item?.error?.reason ?? "unknown"}`,
      );
    }
  }

  private async byId(id: string): Promise<ReportDocument | undefined> {
    const response = await this.search({ size: 1, query: { ids: { values: [id] } } });
    return response.hits.hits[0]?._source as ReportDocument | undefined;
  }

  private async search(request: estypes.SearchRequest): Promise<estypes.SearchResponse> {
    try {
      return await this.client.search({
        index: this.index,
        ignore_unavailable: true,
        allow_no_indices: true,
        track_total_hits: false,
        ...request,
      });
    } catch (error) {
      throw failure("reading reports", this.index, error);
    }
  }
}

function analysisId(subject: string): string {
  return `${subject}#analysis`;
}

function checkScope(scope: string): string {
  if (!SCOPE_PATTERN.test(scope)) {
    throw new VigilError(
      ErrorCodes.EVENT_QUERY,
      `report scope "${scope.slice(0, 80)}" is not "fleet" or "host:<host id>"`,
    );
  }
  return scope;
}

function checkAlertId(alertId: string): string {
  if (!ALERT_ID_PATTERN.test(alertId)) {
    throw new VigilError(ErrorCodes.EVENT_QUERY, `alert id "${alertId.slice(0, 140)}" is not an alert id`);
  }
  return alertId;
}

function failure(what: string, index: string, error: unknown): VigilError {
  let reason = error instanceof Error ? error.message : String(error);
  if (error instanceof errors.ResponseError) {
    const body = error.body as { error?: { type?: string; reason?: string } } | undefined;
    reason = `HTTP ${error.statusCode}${body?.error?.type ? ` ${body.error.type}` : ""}${body?.error?.reason ? `: ${body.error.reason}` : ""}`;
  }
  return new VigilError(
    ErrorCodes.EVENT_QUERY,
    `reports: Elasticsearch (${index}) failed ${what}: ${reason}`,
    {
      cause: error,
    },
  );
}
