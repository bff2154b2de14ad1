// Generates reports on schedule. Every tick:
// - each cell that ended at least `delayMs` ago and within `graceMs` is
//   generated if it has no report yet, and regenerated when the store's
//   events/alerts count for it changed (late events arrived);
// - for every level above, the last period that ended (and any period whose
//   child was just regenerated) is generated when missing or stale; missing
//   children are generated first, so a hub that was down catches up.
// Nothing that ends before the store's earliest event or alert is generated:
// a new installation does not fill a month of empty reports.
// Each period is generated under a KV lease, so with many hubs exactly one
// builds it; the others skip it that tick.

import type { Logger } from "@vigil/common";
import type { CellSource } from "./cell-source";
import { type Period, parentPeriod, periodOf, REPORT_LEVELS, type ReportLevel } from "./periods";
import type { ReportGenerator } from "./report-generator";
import { type ReportLock, reportLockKey } from "./report-lock";
import { FLEET_SCOPE } from "./types";

export interface ReportSchedulerOptions {
  generator: ReportGenerator;
  source: CellSource;
  lock: ReportLock;
  /** How often to look (ms). */
  intervalMs: number;
  /** A period is generated this long after it ends (events in flight settle). */
  delayMs: number;
  /** Late events this long after a cell ended still regenerate it and the levels above. */
  graceMs: number;
  logger: Logger;
  now?: () => number;
}

export interface TickResult {
  /** Ids of the fleet reports generated this tick, in order. */
  generated: string[];
  /** Cells regenerated because the store changed. */
  late: string[];
}

export class ReportScheduler {
  private readonly now: () => number;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;
  private stopped = false;

  constructor(private readonly options: ReportSchedulerOptions) {
    this.now = options.now ?? Date.now;
  }

  start(): void {
    this.stopped = false;
    const loop = () => {
      if (this.stopped) return;
      this.running = this.tick()
        .catch((error: unknown) => this.options.logger.error({ err: error }, "report schedule tick failed"))
        .finally(() => {
          this.running = undefined;
          if (!this.stopped) this.timer = setTimeout(loop, this.options.intervalMs).unref();
        });
    };
    this.timer = setTimeout(loop, 0).unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }

  async tick(): Promise<TickResult> {
    const { generator, source, delayMs, graceMs } = this.options;
    const store = generator.store;
    const now = this.now();
    const settled = now - delayMs;
    const result: TickResult = { generated: [], late: [] };
    const earliest = await source.earliest();
    if (earliest === undefined) return result;
    // Parents of regenerated periods, with the child's generation time: a parent
    // generated since (by another instance) already holds the new child.
    const dirty = new Map<string, { period: Period; childGeneratedAt: string }>();
    const markParent = (period: Period, generatedAt: string) => {
      const parent = parentPeriod(period);
      if (!parent) return;
      const key = `${parent.level}.${parent.startMs}`;
      const seen = dirty.get(key);
      if (!seen || seen.childGeneratedAt < generatedAt)
        dirty.set(key, { period: parent, childGeneratedAt: generatedAt });
    };

    // A cell is due when it has no report or the store's counts for it moved.
    const cellDue = async (cell: Period, note: boolean) => {
      const existing = await store.get(1, FLEET_SCOPE, cell.startMs);
      if (!existing) return true;
      const fingerprint = await source.fingerprint(cell);
      if (fingerprint.events === existing.basis.events && fingerprint.alerts === existing.basis.alerts)
        return false;
      if (note) {
        this.options.logger.info(
          { period: cell.label, before: existing.basis, now: fingerprint },
          "late events: regenerating the cell and the levels above",
        );
        result.late.push(existing.id);
      }
      return true;
    };
    for (let cell = periodOf(1, settled - graceMs); cell.endMs <= settled; cell = periodOf(1, cell.endMs)) {
      if (cell.endMs <= earliest) continue;
      if (!(await cellDue(cell, false))) continue;
      // Checked again under the lease: another instance may have just done it.
      const generated = await this.generateLocked(cell, result, earliest, () => cellDue(cell, true));
      if (generated) markParent(cell, generated);
    }

    for (const level of REPORT_LEVELS.slice(1) as ReportLevel[]) {
      const last = periodOf(level, periodOf(level, settled).startMs - 1);
      const candidates = new Map<number, Period>([[last.startMs, last]]);
      for (const { period } of dirty.values())
        if (period.level === level) candidates.set(period.startMs, period);
      for (const period of [...candidates.values()].sort((a, b) => a.startMs - b.startMs)) {
        if (period.endMs > settled || period.endMs <= earliest) continue;
        const child = dirty.get(`${period.level}.${period.startMs}`);
        const due = async () => {
          const existing = await store.get(level, FLEET_SCOPE, period.startMs);
          return (
            existing === undefined || (child !== undefined && existing.generatedAt < child.childGeneratedAt)
          );
        };
        if (!(await due())) continue;
        const generated = await this.generateLocked(period, result, earliest, due);
        if (generated) markParent(period, generated);
      }
    }
    return result;
  }

  /** Generates under the period's lease when still `due` there; the fleet report's generatedAt when this instance did. */
  private async generateLocked(
    period: Period,
    result: TickResult,
    notBeforeMs: number,
    due: () => Promise<boolean>,
  ): Promise<string | undefined> {
    const done = await this.options.lock.withLock(reportLockKey(period.level, period.startMs), async () =>
      (await due())
        ? await this.options.generator.generate(period, { fillMissing: true, notBeforeMs })
        : undefined,
    );
    if (done?.value) result.generated.push(done.value.id);
    return done?.value?.generatedAt;
  }
}
