// Human output: aligned columns, cut to the terminal's width so a row stays
// on one line. Only columns marked `shrink` are cut (a message, a title), and
// the cut is marked with "…"; ids and times are never cut.

export interface Column<T> {
  header: string;
  value: (row: T) => string;
  /** May be cut to fit the width (the widest such column gives first). */
  shrink?: boolean;
  align?: "left" | "right";
  /** Always this wide (rows printed one at a time, as a follow does, stay aligned). */
  width?: number;
}

const GAP = "  ";
/** A shrinkable column keeps at least this many characters. */
const MIN_SHRUNK = 8;

/** Columns of the terminal stdout writes to; undefined (no cutting) when piped, unless COLUMNS is set. */
export function terminalWidth(): number | undefined {
  if (process.stdout.isTTY && process.stdout.columns > 0) return process.stdout.columns;
  const fromEnv = Number(process.env.COLUMNS);
  return Number.isInteger(fromEnv) && fromEnv > 0 ? fromEnv : undefined;
}

/** Control characters (an attacker's command line) would move the cursor: shown as spaces. */
function printable(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: that is the point
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, " ");
}

function cut(text: string, width: number): string {
  if (text.length <= width) return text;
  return width <= 1 ? text.slice(0, width) : `${text.slice(0, width - 1)}…`;
}

/** The table as lines (header first), each ending in "\n"; `width` undefined: no cutting. */
export function renderTable<T>(
  rows: readonly T[],
  columns: readonly Column<T>[],
  width = terminalWidth(),
): string {
  const cells = rows.map((row) => columns.map((column) => printable(column.value(row))));
  const widths = columns.map(
    (column, index) =>
      column.width ?? Math.max(column.header.length, ...cells.map((line) => line[index].length)),
  );
  if (width !== undefined) fit(widths, columns, width);
  const lines = [columns.map((column) => column.header), ...cells].map((line) =>
    line
      .map((cell, index) => {
        const text = cut(cell, widths[index]);
        if (index === line.length - 1 && columns[index].align !== "right") return text;
        return columns[index].align === "right" ? text.padStart(widths[index]) : text.padEnd(widths[index]);
      })
      .join(GAP)
      .trimEnd(),
  );
  return `${lines.join("\n")}\n`;
}

/** Narrows the shrinkable columns, widest first, until the row fits (or none can give more). */
function fit<T>(widths: number[], columns: readonly Column<T>[], width: number): void {
  const total = () => widths.reduce((sum, value) => sum + value, 0) + GAP.length * (widths.length - 1);
  let excess = total() - width;
  while (excess > 0) {
    let widest = -1;
    for (const [index, column] of columns.entries()) {
      if (column.shrink && widths[index] > MIN_SHRUNK && (widest < 0 || widths[index] > widths[widest])) {
        widest = index;
      }
    }
    if (widest < 0) return;
    const give = Math.min(excess, widths[widest] - MIN_SHRUNK);
    widths[widest] -= give;
    excess -= give;
  }
}

/** "12s ago", "5m ago", "3h ago", "4d ago", "in 2h"; "-" for no time. */
export function relativeTime(time: string | number | undefined, nowMs = Date.now()): string {
  if (time === undefined || time === "") return "-";
  const ms = typeof time === "number" ? time : Date.parse(time);
  if (!Number.isFinite(ms)) return "-";
  const seconds = Math.round((nowMs - ms) / 1000);
  const abs = Math.abs(seconds);
  const amount =
    abs < 60
      ? `${abs}s`
      : abs < 3600
        ? `${Math.floor(abs / 60)}m`
        : abs < 86_400
          ? `${Math.floor(abs / 3600)}h`
          : `${Math.floor(abs / 86_400)}d`;
  return seconds >= 0 ? `${amount} ago` : `in ${amount}`;
}

/** "2025-01-15 12:00:03" (UTC) for an ISO time; the input itself when it is not one. */
export function shortTime(time: unknown): string {
  if (typeof time !== "string" && typeof time !== "number") return "-";
  const ms = typeof time === "number" ? time : Date.parse(time);
  if (!Number.isFinite(ms)) return String(time);
  return new Date(ms).toISOString().slice(0, 19).replace("T", " ");
}

/** One JSON document per line: what --json prints for a listing. */
export function jsonLines(rows: readonly unknown[]): string {
  return rows.map((row) => `${JSON.stringify(row)}\n`).join("");
}
