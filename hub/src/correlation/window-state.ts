// The state of one correlation window (one correlation rule, one group-by
// key) as stored in KV, and the pure step that applies new matches to it.
// The engine reads it, applies, and writes it back with compare-and-set, so
// this step must be deterministic and idempotent:
// - an event already in the window (a redelivery) is not counted again;
// - the window fires when its count rises to the threshold, and the events it
//   counted are then marked consumed: the next firing needs new events;
// - a fire is remembered with the event that triggered it, so when that event
//   comes again (its hub died after the KV write, before the alert was
//   stored) the same alert is produced again instead of being lost.
// Sizes are bounded: entries older than the timespan (by event time, from the
// newest event seen) are dropped, and at most `entryCap` entries are kept.

import type { CorrelationRule } from "./types";

/** [event time ms, event id, positions in correlation.referenced, value key or "", consumed 0/1] */
export type WindowEntry = [number, string, number[], string, 0 | 1];

export interface FireRecord {
  /** The event whose arrival fired the window. */
  trigger: string;
  /** Contributing event ids (at most MAX_FIRE_EVENT_IDS). */
  ids: string[];
  /** What was counted: events, distinct values or distinct rules. */
  count: number;
  /** Contributing events. */
  events: number;
  firstMs: number;
  lastMs: number;
  /** value_count: the distinct values (at most MAX_FIRE_EVENT_IDS). */
  values?: string[];
}

export interface WindowState {
  entries: WindowEntry[];
  fires: FireRecord[];
  /** Newest event time seen. */
  newestMs: number;
}

export interface WindowInput {
  eventId: string;
  timestampMs: number;
  positions: number[];
  /** value_count: the counted value's key ("" when the event has no value). */
  valueKey: string;
}

export interface WindowFire extends FireRecord {
  /** True when this fire was recorded earlier and is produced again for a redelivered trigger. */
  replay: boolean;
}

/** Contributing event ids and values listed in an alert (the count says how many there were). */
export const MAX_FIRE_EVENT_IDS = 50;
/** Fires remembered per window for redelivered triggers. */
const MAX_FIRES = 16;
/** How long past the window a fire is remembered (event time), for a redelivery that comes late. */
const FIRE_MEMORY_MS = 3_600_000;

export function emptyWindow(): WindowState {
  return { entries: [], fires: [], newestMs: 0 };
}

/** Entries a window keeps: enough to count to the threshold, plus consumed ones kept for dedup. */
export function entryCap(rule: CorrelationRule): number {
  return rule.threshold * 2 + 16;
}

function distinctCount(
  entries: WindowEntry[],
  pick: (entry: WindowEntry) => Iterable<string | number>,
): number {
  const seen = new Set<string | number>();
  for (const entry of entries) if (entry[4] === 0) for (const item of pick(entry)) seen.add(item);
  return seen.size;
}

/** temporal_ordered: the earliest chain of unconsumed entries through every position in order, if any. */
function orderedChain(rule: CorrelationRule, sorted: WindowEntry[]): WindowEntry[] | undefined {
  const steps = rule.referenced.length;
  for (let start = 0; start < sorted.length; start++) {
    const first = sorted[start];
    if (first[4] === 1 || !first[2].includes(0)) continue;
    const chain = [first];
    let cursor = start;
    for (let step = 1; step < steps && cursor < sorted.length; step++) {
      let next = cursor + 1;
      while (next < sorted.length && (sorted[next][4] === 1 || !sorted[next][2].includes(step))) next++;
      if (next >= sorted.length) break;
      chain.push(sorted[next]);
      cursor = next;
    }
    if (chain.length === steps && chain[steps - 1][0] - first[0] <= rule.timespanMs) return chain;
  }
  return undefined;
}

/** The entries that fire the window now, or undefined. */
function firing(rule: CorrelationRule, entries: WindowEntry[]): WindowEntry[] | undefined {
  const open = entries.filter((entry) => entry[4] === 0);
  switch (rule.type) {
    case "event_count":
      return open.length >= rule.threshold && open.length <= rule.ceiling ? open : undefined;
    case "value_count": {
      const withValue = open.filter((entry) => entry[3] !== "");
      const count = distinctCount(withValue, (entry) => [entry[3]]);
      return count >= rule.threshold && count <= rule.ceiling ? withValue : undefined;
    }
    case "temporal": {
      const count = distinctCount(open, (entry) => entry[2]);
      return count >= rule.threshold && count <= rule.ceiling ? open : undefined;
    }
    case "temporal_ordered":
      return orderedChain(rule, entries);
    default: {
      const never: never = rule.type;
      throw new Error(`unknown correlation type ${String(never)}`);
    }
  }
}

function record(rule: CorrelationRule, trigger: string, contributing: WindowEntry[]): FireRecord {
  const fire: FireRecord = {
    trigger,
    ids: contributing.slice(-MAX_FIRE_EVENT_IDS).map((entry) => entry[1]),
    count:
      rule.type === "value_count"
        ? new Set(contributing.map((entry) => entry[3])).size
        : rule.type === "event_count"
          ? contributing.length
          : new Set(contributing.flatMap((entry) => entry[2])).size,
    events: contributing.length,
    firstMs: Math.min(...contributing.map((entry) => entry[0])),
    lastMs: Math.max(...contributing.map((entry) => entry[0])),
  };
  if (rule.type === "value_count") {
    fire.values = [...new Set(contributing.map((entry) => entry[3]))].slice(0, MAX_FIRE_EVENT_IDS);
  }
  return fire;
}

/**
 * Applies inputs (in event time order) to a window. `changed` is false when
 * nothing needs writing back (every input was a duplicate).
 */
export function applyToWindow(
  rule: CorrelationRule,
  state: WindowState,
  inputs: readonly WindowInput[],
): { state: WindowState; fires: WindowFire[]; changed: boolean } {
  let entries = state.entries.slice();
  let fires = state.fires.slice();
  let newestMs = state.newestMs;
  const out: WindowFire[] = [];
  const present = new Set(entries.map((entry) => entry[1]));
  let changed = false;
  const cap = entryCap(rule);
  for (const input of inputs) {
    const earlier = fires.find((fire) => fire.trigger === input.eventId);
    if (earlier !== undefined) {
      out.push({ ...earlier, replay: true });
      continue;
    }
    if (present.has(input.eventId)) continue;
    if (input.timestampMs < newestMs - rule.timespanMs) continue; // outside the window already
    changed = true;
    present.add(input.eventId);
    newestMs = Math.max(newestMs, input.timestampMs);
    entries.push([input.timestampMs, input.eventId, input.positions, input.valueKey, 0]);
    // Event time order (stable for equal times, so arrival breaks ties).
    entries.sort((a, b) => a[0] - b[0]);
    const horizon = newestMs - rule.timespanMs;
    if (entries[0][0] < horizon) entries = entries.filter((entry) => entry[0] >= horizon);
    while (entries.length > cap) {
      const consumed = entries.findIndex((entry) => entry[4] === 1);
      entries.splice(Math.max(consumed, 0), 1);
    }
    const contributing = firing(rule, entries);
    if (contributing === undefined) continue;
    // Everything counted so far is spent, so the next fire needs new events.
    const spent = rule.type === "temporal_ordered" ? contributing[contributing.length - 1][0] : newestMs;
    entries = entries.map((entry) =>
      entry[4] === 0 && entry[0] <= spent ? ([...entry.slice(0, 4), 1] as WindowEntry) : entry,
    );
    const fire = record(rule, input.eventId, contributing);
    fires.push(fire);
    out.push({ ...fire, replay: false });
  }
  if (changed) {
    const memory = newestMs - rule.timespanMs - FIRE_MEMORY_MS;
    fires = fires.filter((fire) => fire.lastMs >= memory).slice(-MAX_FIRES);
  }
  return { state: { entries, fires, newestMs }, fires: out, changed };
}

export function encodeWindow(state: WindowState): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(state));
}

/** A window as stored; an unreadable value starts a fresh window rather than stopping the hub. */
export function decodeWindow(bytes: Uint8Array): WindowState {
  try {
    const value = JSON.parse(new TextDecoder().decode(bytes)) as WindowState;
    if (Array.isArray(value.entries) && Array.isArray(value.fires) && typeof value.newestMs === "number") {
      return value;
    }
  } catch {
    // fall through
  }
  return emptyWindow();
}
