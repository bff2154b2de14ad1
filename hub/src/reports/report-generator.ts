// Generates reports: a cell from the store's aggregates (one report per host,
// and the fleet's as their merge), every level above by merging the stored
// reports of the level below, scope by scope (never by reading events again),
// with the trend against the previous period's report.

import type { Logger } from "@vigil/common";
import type { CellSource } from "./cell-source";
import { cellReport, mergeReports, trendOf } from "./merge-reports";
import { childPeriods, type Period, previousPeriod } from "./periods";
import type { ReportStore } from "./report-store";
import { FLEET_SCOPE, type Report, type ReportLimits } from "./types";

export interface ReportGeneratorOptions {
  source: CellSource;
  store: ReportStore;
  limits: ReportLimits;
  logger: Logger;
  now?: () => number;
  /** Called with every report stored (AI triage queues the ones it is configured for); must not throw. */
  onStored?: (report: Report) => void;
}

export interface GenerateOptions {
  /** Generate children that have no fleet report yet first (on demand, backfill). */
  fillMissing: boolean;
  /** Missing children that end at or before this (ms) are not generated: the store holds nothing that old. */
  notBeforeMs?: number;
}

export class ReportGenerator {
  private readonly now: () => number;

  constructor(private readonly options: ReportGeneratorOptions) {
    this.now = options.now ?? Date.now;
  }

  get store(): ReportStore {
    return this.options.store;
  }

  /** Generates (or regenerates) `period` for every scope; returns the fleet report. */
  async generate(period: Period, generate: GenerateOptions = { fillMissing: true }): Promise<Report> {
    const started = this.now();
    const fleet =
      period.level === 1 ? await this.generateCell(period) : await this.generateMerged(period, generate);
    this.options.logger.info(
      {
        level: period.level,
        period: period.label,
        hosts: fleet.hosts,
        events: fleet.events.total,
        alerts: fleet.alerts.total,
        ms: this.now() - started,
      },
      "report generated",
    );
    return fleet;
  }

  private async generateCell(cell: Period): Promise<Report> {
    const generatedAt = new Date(this.now());
    const hostCells = await this.options.source.hostCells(cell);
    const hostReports = hostCells.map((host) => cellReport(cell, host, this.options.limits, generatedAt));
    for (const report of hostReports) await this.put(report);
    const fleet = mergeReports(
      cell,
      FLEET_SCOPE,
      hostReports,
      this.options.limits,
      generatedAt,
      hostReports.length,
    );
    await this.put(fleet);
    return fleet;
  }

  private async generateMerged(period: Period, generate: GenerateOptions): Promise<Report> {
    const store = this.options.store;
    const children = childPeriods(period);
    if (generate.fillMissing) {
      for (const child of children) {
        if (generate.notBeforeMs !== undefined && child.endMs <= generate.notBeforeMs) continue;
        if ((await store.get(child.level, FLEET_SCOPE, child.startMs)) === undefined) {
          await this.generate(child, generate);
        }
      }
    }
    const childLevel = children[0]?.level ?? 1;
    const scopes = await store.scopes(childLevel, period.startMs, period.endMs);
    const hostScopes = scopes.filter((scope) => scope !== FLEET_SCOPE);
    const generatedAt = new Date(this.now());
    const previous = previousPeriod(period);
    for (const scope of hostScopes) {
      await this.put(await this.mergeScope(period, scope, children, previous, generatedAt));
    }
    const fleet = await this.mergeScope(
      period,
      FLEET_SCOPE,
      children,
      previous,
      generatedAt,
      hostScopes.length,
    );
    await this.put(fleet);
    return fleet;
  }

  private async mergeScope(
    period: Period,
    scope: string,
    children: Period[],
    previous: Period,
    generatedAt: Date,
    hostCount = 1,
  ): Promise<Report> {
    const store = this.options.store;
    const parts: Report[] = [];
    for (const child of children) {
      const report = await store.get(child.level, scope, child.startMs);
      if (report) parts.push(report);
    }
    const merged = mergeReports(period, scope, parts, this.options.limits, generatedAt, hostCount);
    merged.trend = trendOf(merged, previous, await store.get(period.level, scope, previous.startMs));
    return merged;
  }

  private async put(report: Report): Promise<void> {
    await this.options.store.put(report);
    try {
      this.options.onStored?.(report);
    } catch (error) {
      this.options.logger.warn({ err: error, report: report.id }, "report hook failed");
    }
  }
}
