import { statSync } from "node:fs";
import {
  allowEntryProblem,
  DRIVER_FILTER_LIMITS,
  ErrorCodes,
  parseDevIno,
  pathEntryProblem,
  previewValue,
  VigilError,
} from "@vigil/common";
import { DRIVER_EVENTS, VIGIL_TYPE_MAX } from "./event-table.gen";

/**
 * The complete filter state of vigil.ko: after the write that
 * buildDriverFilterWrite makes, the driver's filters are exactly these,
 * whatever they were before.
 */
export interface DriverFilters {
  /** Absolute path prefixes the file hooks report (none: the file hooks report nothing). */
  watchedPrefixes: readonly string[];
  /** Absolute executable paths (resolved by the driver to device + inode) or "<dev>:<ino>". */
  allowExecutables: readonly string[];
  /** Hooks switched off, by events.def name; every other hook is on. */
  disabledHooks: readonly string[];
}

/** Categories of records a filter cannot switch off: the driver's accounting and tamper records. */
const ALWAYS_ON_CATEGORIES = new Set(["meta", "integrity"]);

/** Hook names the driver accepts in "hook <name> off" and a policy may use, from the generated event table. */
export const SWITCHABLE_DRIVER_HOOKS: readonly string[] = DRIVER_EVENTS.filter(
  (event) => !ALWAYS_ON_CATEGORIES.has(event.category),
).map((event) => event.name);

/** A filter set the driver would refuse; the message names the entry and the limit. */
export class DriverFilterError extends VigilError {
  constructor(message: string) {
    super(ErrorCodes.CONFIG_INVALID, message);
    this.name = "DriverFilterError";
  }
}

function unique(values: readonly string[]): string[] {
  return [...new Set(values)];
}

/**
 * The control commands (driver/README.md, "Control commands") that set the
 * driver's filters to exactly `filters`: the lists are cleared and refilled,
 * every hook is switched on and the disabled ones off again, and a STATS
 * record is requested so the next heartbeat shows the new hook mask.
 * Duplicates are dropped. Pure; throws DriverFilterError naming the first
 * entry or limit the driver would refuse.
 */
export function buildDriverFilterCommands(filters: DriverFilters): string[] {
  const { maxWatchedPrefixes, maxAllowedExecutables } = DRIVER_FILTER_LIMITS;
  const prefixes = unique(filters.watchedPrefixes);
  const allow = unique(filters.allowExecutables);
  const hooks = unique(filters.disabledHooks);
  if (prefixes.length > maxWatchedPrefixes) {
    throw new DriverFilterError(
      `${prefixes.length} watched prefixes; the driver takes at most ${maxWatchedPrefixes}`,
    );
  }
  if (allow.length > maxAllowedExecutables) {
    throw new DriverFilterError(
      `${allow.length} allow-listed executables; the driver takes at most ${maxAllowedExecutables}`,
    );
  }
  const lines = ["clear-watch"];
  prefixes.forEach((prefix, index) => {
    const problem = pathEntryProblem(prefix);
    if (problem) throw new DriverFilterError(`watched prefix ${index} ${previewValue(prefix)} ${problem}`);
    lines.push(`watch ${prefix}`);
  });
  lines.push("clear-allow");
  const seenIds = new Set<string>();
  allow.forEach((entry, index) => {
    const problem = allowEntryProblem(entry);
    if (problem)
      throw new DriverFilterError(`allow-listed executable ${index} ${previewValue(entry)} ${problem}`);
    const id = parseDevIno(entry);
    if (!id) {
      lines.push(`allow-exe ${entry}`);
      return;
    }
    // Canonical decimal: the driver would read a leading 0 as octal.
    const canonical = `${id.dev} ${id.ino}`;
    if (seenIds.has(canonical)) return;
    seenIds.add(canonical);
    lines.push(`allow-ino ${canonical}`);
  });
  lines.push("hook all on");
  for (const hook of hooks) {
    if (!SWITCHABLE_DRIVER_HOOKS.includes(hook)) {
      throw new DriverFilterError(
        `hook ${previewValue(hook)} cannot be switched off; one of ${SWITCHABLE_DRIVER_HOOKS.join(", ")}`,
      );
    }
    lines.push(`hook ${hook} off`);
  }
  lines.push("stats");
  return lines;
}

/** The commands as the one write the driver applies all-or-nothing; throws DriverFilterError beyond its 16 KiB. */
export function buildDriverFilterWrite(filters: DriverFilters): string {
  const text = `${buildDriverFilterCommands(filters).join("\n")}\n`;
  const bytes = Buffer.byteLength(text, "utf8");
  if (bytes > DRIVER_FILTER_LIMITS.maxWriteBytes) {
    throw new DriverFilterError(
      `the filters make ${bytes} bytes of driver commands; the driver takes at most ${DRIVER_FILTER_LIMITS.maxWriteBytes} in one write: use fewer or shorter prefixes and paths`,
    );
  }
  return text;
}

/** The STATS record's hooks_enabled after the filters are applied: bit n = record type n on. */
export function enabledHookMask(disabledHooks: readonly string[]): bigint {
  // "hook all on" sets bits 1..VIGIL_TYPE_MAX (driver/control.c).
  let mask = ((1n << BigInt(VIGIL_TYPE_MAX + 1)) - 1n) & ~1n;
  for (const event of DRIVER_EVENTS) {
    if (disabledHooks.includes(event.name) && !ALWAYS_ON_CATEGORIES.has(event.category)) {
      mask &= ~(1n << BigInt(event.id));
    }
  }
  return mask;
}

/**
 * Splits the allow-list into what this host can resolve and the paths that
 * are not a regular file here. The driver refuses a whole write when one
 * `allow-exe` path does not resolve, and a fleet-wide list names programs
 * not every host has: those are left out (and reported) instead.
 */
export function partitionAllowExecutables(
  allowExecutables: readonly string[],
  isRegularFile: (path: string) => boolean = regularFileExists,
): { present: string[]; missing: string[] } {
  const present: string[] = [];
  const missing: string[] = [];
  for (const entry of allowExecutables) {
    if (entry.startsWith("/") && !isRegularFile(entry)) missing.push(entry);
    else present.push(entry);
  }
  return { present, missing };
}

function regularFileExists(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}
