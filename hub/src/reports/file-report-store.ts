// Reports as files (embedded mode): <dir>/<level>-<name>/<scope>/<period start>.json,
// one directory per level, e.g. reports/3-daily/fleet/2026-03-02T00-00Z.json and
// reports/1-cell/host-web-1/2026-03-02T10-15Z.json; the AI analysis beside it
// as <period start>.analysis.json. Files are written whole (temp file +
// rename), owner-only.

import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ErrorCodes, VigilError } from "@vigil/common";
import { LEVEL_NAMES, periodOf, REPORT_LEVELS, type ReportLevel } from "./periods";
import {
  ALERT_ID_PATTERN,
  type Analysis,
  MAX_REPORT_LIST,
  type ReportListQuery,
  type ReportStore,
  SCOPE_PATTERN,
} from "./report-store";
import { type Report, type ReportSummary, summaryOf } from "./types";

const FILE_SUFFIX = ".json";
const ANALYSIS_SUFFIX = ".analysis.json";

export function levelDirName(level: ReportLevel): string {
  return `${level}-${LEVEL_NAMES[level]}`;
}

/** "fleet", or "host-" + the host id with anything outside [A-Za-z0-9_.-] percent-encoded. */
export function scopeDirName(scope: string): string {
  if (scope === "fleet") return scope;
  const hostId = scope.slice("host:".length);
  return `host-${hostId.replace(/[^A-Za-z0-9_.-]/g, (char) =>
    [...Buffer.from(char)].map((byte) => `%${byte.toString(16).toUpperCase().padStart(2, "0")}`).join(""),
  )}`;
}

function scopeOfDirName(name: string): string | undefined {
  if (name === "fleet") return name;
  if (!name.startsWith("host-")) return undefined;
  try {
    return `host:${decodeURIComponent(name.slice("host-".length))}`;
  } catch {
    return undefined;
  }
}

/** "2026-03-02T10-15Z": the period start, minutes precision, no colons. */
export function stampOf(startMs: number): string {
  return new Date(startMs).toISOString().slice(0, 16).replace(":", "-").concat("Z");
}

function startOfStamp(stamp: string): number {
  return Date.parse(`${stamp.slice(0, 13)}:${stamp.slice(14, 16)}:00Z`);
}

export class FileReportStore implements ReportStore {
  readonly name = "files";

  constructor(readonly dir: string) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  }

  async put(report: Report): Promise<void> {
    const path = this.path(report.level, report.scope, Date.parse(report.period.start), FILE_SUFFIX);
    writeWhole(path, `${JSON.stringify(report, null, 2)}\n`);
  }

  async get(level: ReportLevel, scope: string, startMs: number): Promise<Report | undefined> {
    return readJson<Report>(this.path(level, scope, startMs, FILE_SUFFIX));
  }

  async scopes(level: ReportLevel, fromMs: number, toMs: number): Promise<string[]> {
    const levelDir = join(this.dir, levelDirName(level));
    if (!existsSync(levelDir)) return [];
    const starts: number[] = [];
    for (let at = periodOf(level, fromMs).startMs; at < toMs; at = periodOf(level, at).endMs) {
      if (at >= fromMs) starts.push(at);
    }
    const found: string[] = [];
    for (const name of readdirSync(levelDir).sort()) {
      const scope = scopeOfDirName(name);
      if (scope === undefined) continue;
      if (starts.some((start) => existsSync(join(levelDir, name, `${stampOf(start)}${FILE_SUFFIX}`)))) {
        found.push(scope);
      }
    }
    return found;
  }

  async list(query: ReportListQuery): Promise<ReportSummary[]> {
    const limit = Math.max(1, Math.min(query.limit, MAX_REPORT_LIST));
    const candidates: Array<{ level: ReportLevel; scopeDir: string; stamp: string; startMs: number }> = [];
    for (const level of query.level === undefined ? REPORT_LEVELS : [query.level]) {
      const levelDir = join(this.dir, levelDirName(level));
      if (!existsSync(levelDir)) continue;
      const scopeDirs =
        query.scope === undefined
          ? readdirSync(levelDir)
          : [scopeDirName(query.scope)].filter((d) => existsSync(join(levelDir, d)));
      for (const scopeDir of scopeDirs) {
        if (scopeOfDirName(scopeDir) === undefined) continue;
        for (const file of readdirSync(join(levelDir, scopeDir))) {
          if (!file.endsWith(FILE_SUFFIX) || file.endsWith(ANALYSIS_SUFFIX)) continue;
          const stamp = file.slice(0, -FILE_SUFFIX.length);
          const startMs = startOfStamp(stamp);
          if (!Number.isFinite(startMs)) continue;
          if (query.fromMs !== undefined && startMs < query.fromMs) continue;
          if (query.toMs !== undefined && startMs >= query.toMs) continue;
          candidates.push({ level, scopeDir, stamp, startMs });
        }
      }
    }
    candidates.sort(
      (a, b) =>
        b.startMs - a.startMs ||
        b.level - a.level ||
        (a.scopeDir < b.scopeDir ? -1 : a.scopeDir > b.scopeDir ? 1 : 0),
    );
    const summaries: ReportSummary[] = [];
    for (const candidate of candidates.slice(0, limit)) {
      const base = join(this.dir, levelDirName(candidate.level), candidate.scopeDir, candidate.stamp);
      const report = readJson<Report>(`${base}${FILE_SUFFIX}`);
      if (report) summaries.push(summaryOf(report, existsSync(`${base}${ANALYSIS_SUFFIX}`)));
    }
    return summaries;
  }

  async putAnalysis(level: ReportLevel, scope: string, startMs: number, analysis: Analysis): Promise<void> {
    writeWhole(this.path(level, scope, startMs, ANALYSIS_SUFFIX), `${JSON.stringify(analysis, null, 2)}\n`);
  }

  async getAnalysis(level: ReportLevel, scope: string, startMs: number): Promise<Analysis | undefined> {
    return readJson<Analysis>(this.path(level, scope, startMs, ANALYSIS_SUFFIX));
  }

  async putAlertAnalysis(alertId: string, analysis: Analysis): Promise<void> {
    writeWhole(this.alertPath(alertId), `${JSON.stringify(analysis, null, 2)}\n`);
  }

  async getAlertAnalysis(alertId: string): Promise<Analysis | undefined> {
    return readJson<Analysis>(this.alertPath(alertId));
  }

  async close(): Promise<void> {}

  /** <dir>/alerts/<alert id>.analysis.json */
  private alertPath(alertId: string): string {
    if (!ALERT_ID_PATTERN.test(alertId)) {
      throw new VigilError(ErrorCodes.EVENT_QUERY, `alert id "${alertId.slice(0, 140)}" is not an alert id`);
    }
    return join(this.dir, "alerts", `${alertId}${ANALYSIS_SUFFIX}`);
  }

  private path(level: ReportLevel, scope: string, startMs: number, suffix: string): string {
    if (!SCOPE_PATTERN.test(scope)) {
      throw new VigilError(
        ErrorCodes.EVENT_QUERY,
        `report scope "${scope}" is not "fleet" or "host:<host id>"`,
      );
    }
    return join(this.dir, levelDirName(level), scopeDirName(scope), `${stampOf(startMs)}${suffix}`);
  }
}

function writeWhole(path: string, text: string): void {
  const dir = path.slice(0, path.lastIndexOf("/"));
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const temp = `${path}.${process.pid}.tmp`;
    writeFileSync(temp, text, { mode: 0o600 });
    renameSync(temp, path);
  } catch (error) {
    throw new VigilError(ErrorCodes.SINK_WRITE, `cannot write report ${path}: ${(error as Error).message}`, {
      cause: error,
    });
  }
}

function readJson<T>(path: string): T | undefined {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new VigilError(ErrorCodes.EVENT_QUERY, `cannot read report ${path}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  try {
    return JSON.parse(text) as T;
  } catch (error) {
    throw new VigilError(
      ErrorCodes.EVENT_QUERY,
      `report file ${path} is not JSON: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
}
