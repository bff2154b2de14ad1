// The report hierarchy's periods, all in UTC:
//   1 cell    15 minutes, aligned on the quarter hour
//   2 block   4 hours = 16 cells, starting 00:00, 04:00, ... 20:00
//   3 daily   one day = 6 blocks
//   4 weekly  one ISO 8601 week = 7 days, Monday 00:00 to Monday 00:00
//   5 monthly the ISO weeks whose Thursday falls in the calendar month (4 or 5
//             weeks): from the Monday of the week holding the month's first
//             Thursday to the Monday of the week holding the next month's.
// So every period is exactly the union of its children, and a week belongs to
// one month only (the month of its Thursday, as ISO week-numbering years do).

export const REPORT_LEVELS = [1, 2, 3, 4, 5] as const;
export type ReportLevel = (typeof REPORT_LEVELS)[number];

export const LEVEL_NAMES: Record<ReportLevel, string> = {
  1: "cell",
  2: "block",
  3: "daily",
  4: "weekly",
  5: "monthly",
};

export const MINUTE_MS = 60_000;
export const CELL_MS = 15 * MINUTE_MS;
export const BLOCK_MS = 16 * CELL_MS;
export const DAY_MS = 6 * BLOCK_MS;
export const WEEK_MS = 7 * DAY_MS;

export interface Period {
  level: ReportLevel;
  /** Inclusive start, ms since epoch. */
  startMs: number;
  /** Exclusive end, ms since epoch. */
  endMs: number;
  /** For people: "2026-03-02T10:15Z", "2026-03-02T08:00Z+4h", "2026-03-02", "2026-W10", "2026-03". */
  label: string;
}

export function isReportLevel(value: unknown): value is ReportLevel {
  return typeof value === "number" && (REPORT_LEVELS as readonly number[]).includes(value);
}

/** A level given as its number or name ("3", "daily"). */
export function parseLevel(value: string): ReportLevel | undefined {
  const number = Number(value);
  if (isReportLevel(number)) return number;
  const named = REPORT_LEVELS.find((level) => LEVEL_NAMES[level] === value.toLowerCase());
  return named;
}

function floorTo(ms: number, step: number): number {
  return Math.floor(ms / step) * step;
}

/** Monday 00:00 UTC of the ISO week holding `ms` (1970-01-01 was a Thursday). */
function isoWeekStart(ms: number): number {
  const day = Math.floor(ms / DAY_MS);
  const weekday = (((day + 3) % 7) + 7) % 7; // Monday 0 ... Sunday 6
  return (day - weekday) * DAY_MS;
}

/** Monday of the week holding the first Thursday of (year, month 0-11). */
function firstWeekOfMonth(year: number, month: number): number {
  const first = Date.UTC(year, month, 1);
  const weekday = (((Math.floor(first / DAY_MS) + 3) % 7) + 7) % 7;
  const firstThursday = first + ((3 - weekday + 7) % 7) * DAY_MS;
  return firstThursday - 3 * DAY_MS;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function minuteLabel(ms: number): string {
  return `${iso(ms).slice(0, 16)}Z`;
}

function isoWeekLabel(weekStart: number): string {
  const thursday = new Date(weekStart + 3 * DAY_MS);
  const year = thursday.getUTCFullYear();
  const dayOfYear = Math.floor((thursday.getTime() - Date.UTC(year, 0, 1)) / DAY_MS);
  return `${year}-W${String(Math.floor(dayOfYear / 7) + 1).padStart(2, "0")}`;
}

/** The period of `level` that holds the instant `ms`. */
export function periodOf(level: ReportLevel, ms: number): Period {
  switch (level) {
    case 1: {
      const startMs = floorTo(ms, CELL_MS);
      return { level, startMs, endMs: startMs + CELL_MS, label: minuteLabel(startMs) };
    }
    case 2: {
      const startMs = floorTo(ms, BLOCK_MS);
      return { level, startMs, endMs: startMs + BLOCK_MS, label: `${minuteLabel(startMs)}+4h` };
    }
    case 3: {
      const startMs = floorTo(ms, DAY_MS);
      return { level, startMs, endMs: startMs + DAY_MS, label: iso(startMs).slice(0, 10) };
    }
    case 4: {
      const startMs = isoWeekStart(ms);
      return { level, startMs, endMs: startMs + WEEK_MS, label: isoWeekLabel(startMs) };
    }
    case 5: {
      const thursday = new Date(isoWeekStart(ms) + 3 * DAY_MS);
      const year = thursday.getUTCFullYear();
      const month = thursday.getUTCMonth();
      return {
        level,
        startMs: firstWeekOfMonth(year, month),
        endMs: firstWeekOfMonth(year, month + 1),
        label: `${year}-${String(month + 1).padStart(2, "0")}`,
      };
    }
    default: {
      const never: never = level;
      throw new Error(`unknown report level ${String(never)}`);
    }
  }
}

/** The periods one level down whose union is `period` (none for a cell). */
export function childPeriods(period: Period): Period[] {
  if (period.level === 1) return [];
  const level = (period.level - 1) as ReportLevel;
  const children: Period[] = [];
  for (let at = period.startMs; at < period.endMs; ) {
    const child = periodOf(level, at);
    children.push(child);
    at = child.endMs;
  }
  return children;
}

/** The period one level up that holds `period`; undefined for a month. */
export function parentPeriod(period: Period): Period | undefined {
  if (period.level === 5) return undefined;
  return periodOf((period.level + 1) as ReportLevel, period.startMs);
}

/** The period of the same level just before. */
export function previousPeriod(period: Period): Period {
  return periodOf(period.level, period.startMs - 1);
}

/** The period of `level` starting exactly at `startMs`, or undefined when none does. */
export function periodStartingAt(level: ReportLevel, startMs: number): Period | undefined {
  const period = periodOf(level, startMs);
  return period.startMs === startMs ? period : undefined;
}
