import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from "node:fs";
import { join } from "node:path";

/** The spool's small persistent state, beside the segments. */
export interface SpoolState {
  /** Every sequence up to this one was acked or evicted. */
  ackedThrough: number;
  /** Sequences up to this one may have been handed out: a restart starts above it. */
  reservedThrough: number;
  totalEventsLost: number;
  lostByReason: Record<string, number>;
}

export const STATE_FILE = "state.json";

export type LoadedState =
  | { kind: "ok"; state: SpoolState }
  | { kind: "missing" }
  | { kind: "corrupt"; why: string };

export function loadSpoolState(dir: string): LoadedState {
  const file = join(dir, STATE_FILE);
  if (!existsSync(file)) return { kind: "missing" };
  try {
    const json = JSON.parse(readFileSync(file, "utf8")) as Partial<SpoolState>;
    const numbers = [json.ackedThrough, json.reservedThrough, json.totalEventsLost];
    if (!numbers.every((value) => Number.isSafeInteger(value) && (value as number) >= 0)) {
      return { kind: "corrupt", why: "fields missing or not non-negative integers" };
    }
    const lostByReason: Record<string, number> = {};
    for (const [reason, count] of Object.entries(json.lostByReason ?? {})) {
      if (Number.isSafeInteger(count)) lostByReason[reason] = count;
    }
    return { kind: "ok", state: { ...(json as SpoolState), lostByReason } };
  } catch (error) {
    return { kind: "corrupt", why: (error as Error).message };
  }
}

/**
 * Replaces state.json atomically: write a temp file, optionally fsync it, rename.
 * Without fsync a host crash can leave the previous state (never a torn one on
 * ext4/xfs, whose rename-over flushes the data first); that only means a few
 * acked batches are resent and deduplicated by the server.
 */
export function saveSpoolState(dir: string, state: SpoolState, durable: boolean): void {
  const file = join(dir, STATE_FILE);
  const temp = `${file}.tmp`;
  const fd = openSync(temp, "w", 0o600);
  try {
    const data = Buffer.from(JSON.stringify(state));
    let written = 0;
    while (written < data.length) written += writeSync(fd, data, written);
    if (durable) fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temp, file);
  if (durable) fsyncDir(dir);
}

export function fsyncDir(dir: string): void {
  const fd = openSync(dir, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
