// Correlation without state in the hub: each window is a KV value updated
// with compare-and-set. Two hubs adding to one window at once both read
// revision R; one write wins, the other gets VIGIL_ERR_KV_CONFLICT, reads the
// winner's state and applies its events on top — so a threshold is crossed,
// and fires, in exactly one of them. A write that fails otherwise fails the
// batch, which the hub then does not ack: the batch comes again, and the
// window recognises the events it already holds (window-state.ts).

import { createHash } from "node:crypto";
import {
  type Alert,
  type EcsDocument,
  ErrorCodes,
  isVigilError,
  type KvBucket,
  type Logger,
  VigilError,
} from "@vigil/common";
import { correlationAlert } from "./correlation-alert";
import { windowKey } from "./correlation-bucket";
import type { CorrelationLink } from "./correlation-index";
import type { CorrelatedMatch } from "./types";
import { applyToWindow, decodeWindow, emptyWindow, encodeWindow, type WindowInput } from "./window-state";

export interface CorrelationEngineOptions {
  kv: KvBucket;
  logger: Logger;
  /** Compare-and-set attempts on one window before the batch is failed (and redelivered). */
  maxAttempts?: number;
  /** Windows updated at once per batch. */
  concurrency?: number;
}

export interface CorrelationCounters {
  /** Window writes that succeeded. */
  updates: number;
  /** Writes that lost a compare-and-set race and were retried. */
  conflicts: number;
  /** Windows that fired. */
  fires: number;
  /** Fires produced again for a redelivered triggering event. */
  replays: number;
}

/** Correlations chained on correlations go this deep at most (compile-time checks refuse cycles). */
const MAX_CHAIN_DEPTH = 16;
/** Longest value kept as is for value_count; longer ones are kept as a prefix and a hash. */
const MAX_VALUE_KEY = 128;

function readPath(document: EcsDocument, path: readonly string[]): unknown {
  let value: unknown = document;
  for (const segment of path) {
    if (typeof value !== "object" || value === null) return undefined;
    value = (value as Record<string, unknown>)[segment];
  }
  return value;
}

function valueKey(value: unknown): string {
  if (value === undefined || value === null || (Array.isArray(value) && value.length === 0)) return "";
  const text = typeof value === "string" ? value : JSON.stringify(value);
  if (text.length <= MAX_VALUE_KEY) return text;
  const digest = createHash("sha256").update(text).digest("base64url").slice(0, 16);
  return `${text.slice(0, MAX_VALUE_KEY - 20)}…${digest}`;
}

interface WindowWork {
  key: string;
  link: CorrelationLink;
  group: Record<string, unknown>;
  matches: CorrelatedMatch[];
}

export class CorrelationEngine {
  readonly counters: CorrelationCounters = { updates: 0, conflicts: 0, fires: 0, replays: 0 };
  private readonly maxAttempts: number;
  private readonly concurrency: number;

  constructor(private readonly options: CorrelationEngineOptions) {
    this.maxAttempts = options.maxAttempts ?? 50;
    this.concurrency = options.concurrency ?? 32;
  }

  /**
   * Applies a batch's matches to their windows and returns the alerts of the
   * windows that fired. Throws when a window could not be updated; the
   * caller must then not ack the batch.
   */
  async process(matches: readonly CorrelatedMatch[], createdAt: Date): Promise<Alert[]> {
    const alerts: Alert[] = [];
    let pending = matches;
    for (let depth = 0; pending.length > 0 && depth <= MAX_CHAIN_DEPTH; depth++) {
      const chained: CorrelatedMatch[] = [];
      const work = [...this.windows(pending).values()];
      for (let i = 0; i < work.length; i += this.concurrency) {
        await Promise.all(
          work.slice(i, i + this.concurrency).map((item) => this.update(item, createdAt, alerts, chained)),
        );
      }
      pending = chained;
    }
    return alerts;
  }

  private windows(matches: readonly CorrelatedMatch[]): Map<string, WindowWork> {
    const byKey = new Map<string, WindowWork>();
    for (const match of matches) {
      const { link } = match;
      const reference = link.correlation.referenced[link.positions[0]];
      const values = reference.groupPaths.map((path) => readPath(match.document, path) ?? null);
      const key = windowKey(link.correlation, link.definition, values);
      let work = byKey.get(key);
      if (work === undefined) {
        const group: Record<string, unknown> = {};
        link.correlation.groupBy.forEach((field, i) => {
          group[field] = values[i];
        });
        work = { key, link, group, matches: [] };
        byKey.set(key, work);
      }
      work.matches.push(match);
    }
    return byKey;
  }

  private inputs(work: WindowWork): WindowInput[] {
    const byEvent = new Map<string, WindowInput>();
    for (const match of work.matches) {
      const known = byEvent.get(match.eventId);
      if (known !== undefined) {
        for (const position of match.link.positions)
          if (!known.positions.includes(position)) known.positions.push(position);
        continue;
      }
      const reference = match.link.correlation.referenced[match.link.positions[0]];
      byEvent.set(match.eventId, {
        eventId: match.eventId,
        timestampMs: match.timestampMs,
        positions: [...match.link.positions],
        valueKey: reference.valuePath ? valueKey(readPath(match.document, reference.valuePath)) : "",
      });
    }
    return [...byEvent.values()].sort((a, b) => a.timestampMs - b.timestampMs);
  }

  private async update(
    work: WindowWork,
    createdAt: Date,
    alerts: Alert[],
    chained: CorrelatedMatch[],
  ): Promise<void> {
    const { kv } = this.options;
    const { correlation } = work.link;
    const inputs = this.inputs(work);
    for (let attempt = 1; attempt <= this.maxAttempts; attempt++) {
      const entry = await kv.get(work.key);
      const result = applyToWindow(correlation, entry ? decodeWindow(entry.value) : emptyWindow(), inputs);
      if (result.changed) {
        try {
          const value = encodeWindow(result.state);
          if (entry === undefined) await kv.create(work.key, value);
          else await kv.update(work.key, value, entry.revision);
          this.counters.updates++;
        } catch (error) {
          if (isVigilError(error) && error.code === ErrorCodes.KV_CONFLICT) {
            this.counters.conflicts++;
            continue;
          }
          throw error;
        }
      }
      for (const fire of result.fires) {
        const trigger = work.matches.find((match) => match.eventId === fire.trigger) as CorrelatedMatch;
        const alert = correlationAlert(work.link, fire, trigger.document, work.group, createdAt);
        alerts.push(alert);
        if (fire.replay) this.counters.replays++;
        else this.counters.fires++;
        // A correlation chained on this one counts this fire as one of its events.
        trigger.index.collect(correlation.id, trigger.document, alert.id, fire.lastMs, chained);
      }
      return;
    }
    throw new VigilError(
      ErrorCodes.KV_CONFLICT,
      `correlation ${correlation.id}: window ${work.key} still contended after ${this.maxAttempts} attempts`,
    );
  }
}
