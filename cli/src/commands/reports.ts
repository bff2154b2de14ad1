import {
  type Analysis,
  LEVEL_NAMES,
  parseLevel,
  periodOf,
  type Report,
  type ReportLevel,
  SCOPE_PATTERN,
} from "@vigil/hub";
import { jsonLines } from "../output/table";
import { ApiError, type ApiOptions, apiRequest } from "./api-client";
import { type ReportListRow, renderReport, renderReportList } from "./reports-format";

// `vigil reports list|show|generate`: tiered reports through the API. A
// period is named by its level and any time inside it ("daily 2026-02-03",
// "weekly 2026-02-04"): the CLI finds the period's start the API asks for.

export interface ReportScopeFlags {
  scope?: string;
  hostId?: string;
}

export interface ReportsListOptions extends ApiOptions, ReportScopeFlags {
  level?: string;
  /** ISO times (parseTime resolves "7d"-style input). */
  since?: string;
  until?: string;
  limit?: number;
}

export interface ReportOptions extends ApiOptions, ReportScopeFlags {
  level: string;
  /** Any time inside the period. */
  at: string;
}

const LEVELS = "1-5 or cell, block, daily, weekly, monthly";

export function reportLevel(value: string, what = "<level>"): ReportLevel {
  const level = parseLevel(value);
  if (level === undefined) throw new Error(`${what}: "${value}" is not a level (${LEVELS})`);
  return level;
}

/** --scope or --host-id as the API's scope; undefined when neither is given. */
export function reportScope(flags: ReportScopeFlags): string | undefined {
  if (flags.scope !== undefined && flags.hostId !== undefined) {
    throw new Error("--scope and --host-id: give one of them (--host-id <id> is --scope host:<id>)");
  }
  const scope = flags.hostId !== undefined ? `host:${flags.hostId}` : flags.scope;
  if (scope !== undefined && !SCOPE_PATTERN.test(scope)) {
    throw new Error(`--scope: "${scope}" is not "fleet" or "host:<host.id>"`);
  }
  return scope;
}

/** The start (ISO) of the period of `level` holding `at` (an ISO time or date). */
export function periodStart(level: ReportLevel, at: string): string {
  const ms = Date.parse(at);
  if (!Number.isFinite(ms)) {
    throw new Error(`<time>: "${at}" is not a time (a date like 2026-02-03 or an ISO time, UTC)`);
  }
  return new Date(periodOf(level, ms).startMs).toISOString();
}

/** The API's 400 names its parameter: said here as the command's argument or option. */
function explainBadRequest(error: unknown): never {
  if (error instanceof ApiError && error.status === 400) {
    const names: Record<string, string> = {
      level: "<level>",
      start: "<time>",
      scope: "--scope",
      from: "--since",
      to: "--until",
      limit: "-n",
    };
    const message = error.message.replace(/^API 400: (?:querystring[./])?([a-z]+)/, (whole, name: string) =>
      names[name] ? `API 400: ${names[name]}` : whole,
    );
    throw new ApiError(message, error.status, error.answer);
  }
  throw error;
}

export async function listReports(options: ReportsListOptions): Promise<void> {
  const query = new URLSearchParams();
  if (options.level !== undefined) query.set("level", String(reportLevel(options.level, "--level")));
  const scope = reportScope(options);
  if (scope !== undefined) query.set("scope", scope);
  if (options.since !== undefined) query.set("from", options.since);
  if (options.until !== undefined) query.set("to", options.until);
  query.set("limit", String(options.limit ?? 50));
  const answer = await apiRequest<{ reports: ReportListRow[] }>(
    options,
    "GET",
    `/api/v1/reports?${query}`,
  ).catch(explainBadRequest);
  if (options.json) {
    process.stdout.write(jsonLines(answer.reports));
    return;
  }
  if (answer.reports.length === 0) {
    process.stdout.write("no reports match\n");
    return;
  }
  process.stdout.write(renderReportList(answer.reports));
}

export async function showReport(options: ReportOptions): Promise<void> {
  const level = reportLevel(options.level);
  const start = periodStart(level, options.at);
  const scope = reportScope(options) ?? "fleet";
  const answer = await apiRequest<{ report: Report; analysis: Analysis | null }>(
    options,
    "GET",
    `/api/v1/reports/${level}/${encodeURIComponent(scope)}/${encodeURIComponent(start)}`,
  ).catch((error: unknown) => {
    if (error instanceof ApiError && error.status === 404) {
      throw new ApiError(
        `${error.message}; \`vigil reports generate ${LEVEL_NAMES[level]} ${start}\` builds it (operator token)`,
        404,
        error.answer,
      );
    }
    return explainBadRequest(error);
  });
  process.stdout.write(
    options.json ? `${JSON.stringify(answer)}\n` : renderReport(answer.report, answer.analysis),
  );
}

export async function generateReport(options: ReportOptions): Promise<void> {
  const level = reportLevel(options.level);
  const start = periodStart(level, options.at);
  const scope = reportScope(options) ?? "fleet";
  const answer = await apiRequest<{ report?: Report; status?: string; message?: string }>(
    options,
    "POST",
    "/api/v1/reports/generate",
    { level, start, scope },
  ).catch(explainBadRequest);
  if (options.json) {
    process.stdout.write(`${JSON.stringify(answer)}\n`);
    return;
  }
  if (!answer.report) {
    process.stdout.write(`${answer.message ?? "being generated by another instance"}\n`);
    return;
  }
  process.stdout.write(renderReport(answer.report, null));
}
