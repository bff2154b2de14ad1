import { DRIVER_EVENTS } from "./event-table.gen";
import type { DriverRecord } from "./record-decoder";

/** Hooks that have per-type counters worth reporting (the driver's own meta records are not hooks). */
const HOOKS = DRIVER_EVENTS.filter((event) => event.category !== "meta");

function toNumber(value: unknown): number | undefined {
  if (typeof value === "bigint") return Number(value);
  if (typeof value === "number") return value;
  return undefined;
}

/** The little-endian u64 at each known record type id of a per-type blob, by hook name. */
function perHook(blob: unknown, prefix: string, into: Record<string, number>): void {
  if (!(blob instanceof Uint8Array)) return;
  const view = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
  for (const hook of HOOKS) {
    const at = hook.id * 8;
    if (at + 8 > blob.byteLength) continue;
    into[`${prefix}.${hook.name}`] = Number(view.getBigUint64(at, true));
  }
}

/**
 * A decoded STATS record (driver/control.c vg_emit_stats) as collector
 * counters: records queued in total, ring buffer size and fill,
 * the enabled-hook bitmask, and per hook (events.def name) the records
 * queued and dropped. Only ids of the event table are read, so a hostile or
 * newer blob cannot add keys.
 */
export function driverStatsCounters(fields: DriverRecord["fields"]): Record<string, number> {
  const counters: Record<string, number> = {};
  const scalar = (key: string, field: string) => {
    const value = toNumber(fields[field]);
    if (value !== undefined) counters[key] = value;
  };
  // "dropped" is the handler's driverDropped already (one total, not two).
  scalar("kernelRecords", "records");
  scalar("bufferSize", "buffer_size");
  scalar("bufferUsed", "buffer_used");
  scalar("hooksEnabledMask", "hooks_enabled");
  perHook(fields.hook_counts, "hookRecords", counters);
  perHook(fields.hook_drops, "hookDrops", counters);
  return counters;
}
