// Dedup and suppression: the same rule firing on the same key within a window
// makes one alert whose vigil.alert.count grows, not a flood of alerts. The
// state is in a KV bucket (NATS KV in distributed mode), not in hub memory, so
// it survives hub restarts and every hub instance sees the same windows; each
// change is a compare-and-set, so two hubs counting the same key at once both
// land (one retries) and exactly one of them opens a window.

import { createHash } from "node:crypto";
import {
  type Alert,
  type EcsDocument,
  ErrorCodes,
  isVigilError,
  type KvBucket,
  type KvBucketSpec,
  VigilError,
} from "@vigil/common";

/** Hub-wide dedup: alerts of a rule with equal values of these ECS fields, within windowMs of the first. */
export interface DedupPolicy {
  /** Dotted ECS paths, e.g. ["host.id", "user.name"]. A missing field groups as null. */
  fields: readonly string[];
  windowMs: number;
}

/** Which window an alert belongs to: rule + key, and the window's length. */
interface Grouping {
  key: string;
  windowMs: number;
}

/** Default dedup key: the same activity (who ran what, against what) on the same host. */
export const DEFAULT_DEDUP_FIELDS: readonly string[] = [
  "host.id",
  "user.id",
  "process.executable",
  "process.command_line",
  "process.parent.executable",
  "file.path",
  "destination.ip",
  "destination.port",
];

export const ALERT_DEDUP_BUCKET = "vigil-alert-dedup";
/** Longest window (a rule's vigil.suppress allows up to 7 d); the bucket keeps entries this long. */
export const MAX_GROUPING_WINDOW_MS = 7 * 24 * 3600_000;
/** Event ids remembered per window so a redelivered batch does not count its duplicates twice. */
const RECENT_EVENT_IDS = 64;
/** CAS retries before giving up (the batch is then redelivered, nothing lost). */
const MAX_CAS_ATTEMPTS = 32;
/** Upper bound of the random pause after a lost CAS, growing with each loss, so contenders spread out. */
const CAS_BACKOFF_STEP_MS = 2;

/** The bucket: entries live as long as the longest window (`maxWindowMs`), then expire. */
export function alertDedupBucket(maxWindowMs = MAX_GROUPING_WINDOW_MS): KvBucketSpec {
  return { name: ALERT_DEDUP_BUCKET, history: 1, ttlMs: maxWindowMs, maxValueBytes: 8192 };
}

/** One window's state, as stored in KV. */
interface DedupWindow {
  alertId: string;
  /** The event that opened the window: its redelivery must write the alert again. */
  openerEventId: string;
  startMs: number;
  windowMs: number;
  count: number;
  lastSeenMs: number;
  recent: string[];
}

export interface AlertCountUpdate {
  alertId: string;
  /** Events the alert stands for, its own included. */
  count: number;
  /** Time of the latest of them (ISO). */
  lastSeen: string;
}

export interface AdmitResult {
  /** Alerts to store and publish, each with vigil.alert.count set. */
  fresh: Alert[];
  /** Alerts stored by an earlier batch whose count grew. */
  counts: AlertCountUpdate[];
  /** Matches folded into an existing alert instead of making a new one. */
  folded: number;
}

export interface AlertDedupOptions {
  kv: KvBucket;
  /**
   * Applied to rules without a suppression of their own (vigil.suppress, found
   * in the alert's vigil.alert.suppression); undefined or a 0 window: such
   * rules alert on every match.
   */
  defaults?: DedupPolicy;
}

export class AlertDeduplicator {
  constructor(private readonly options: AlertDedupOptions) {}

  /**
   * Sorts a batch's alerts, in order, into new alerts and count increases of
   * alerts already made. Throws (VIGIL_ERR_KV_*) when KV is unreachable:
   * the caller redelivers the batch.
   */
  async admit(alerts: readonly Alert[]): Promise<AdmitResult> {
    const fresh: Alert[] = [];
    const freshById = new Map<string, Alert>();
    const counts = new Map<string, AlertCountUpdate>();
    let folded = 0;
    for (const alert of alerts) {
      const grouping = groupingOf(alert, this.options.defaults);
      if (grouping === undefined) {
        setCount(alert, 1, alert);
        fresh.push(alert);
        continue;
      }
      const outcome = await this.record(alert, grouping);
      const update = {
        alertId: outcome.window.alertId,
        count: outcome.window.count,
        lastSeen: iso(outcome.window.lastSeenMs),
      };
      if (outcome.opened) {
        fresh.push(alert);
        freshById.set(alert.id, alert);
        setCount(alert, update.count, alert);
        if (update.count > 1) counts.set(alert.id, update);
        continue;
      }
      folded++;
      const inBatch = freshById.get(outcome.window.alertId);
      if (inBatch) setCount(inBatch, update.count, alert);
      else counts.set(update.alertId, update);
    }
    return { fresh, counts: [...counts.values()], folded };
  }

  /** Opens a window for this alert, or counts it in the open one; CAS-retried. */
  private async record(alert: Alert, grouping: Grouping): Promise<{ opened: boolean; window: DedupWindow }> {
    const { kv } = this.options;
    const key = grouping.key;
    const eventId = eventIdOf(alert);
    const timeMs = Math.floor(alert.timestampUs / 1000);
    for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
      const entry = await kv.get(key);
      const current = entry ? decodeWindow(entry.value) : undefined;
      try {
        if (current === undefined || !covers(current, timeMs)) {
          const window: DedupWindow = {
            alertId: alert.id,
            openerEventId: eventId,
            startMs: timeMs,
            windowMs: grouping.windowMs,
            count: 1,
            lastSeenMs: timeMs,
            recent: [],
          };
          const value = encodeWindow(window);
          if (entry) await kv.update(key, value, entry.revision);
          else await kv.create(key, value);
          return { opened: true, window };
        }
        // A redelivered opener: write the same alert again (stores keep it once).
        if (current.alertId === alert.id) return { opened: true, window: current };
        if (current.recent.includes(eventId)) return { opened: false, window: current };
        const window: DedupWindow = {
          ...current,
          count: current.count + 1,
          lastSeenMs: Math.max(current.lastSeenMs, timeMs),
          recent: [...current.recent, eventId].slice(-RECENT_EVENT_IDS),
        };
        await kv.update(key, encodeWindow(window), (entry as { revision: number }).revision);
        return { opened: false, window };
      } catch (error) {
        if (!isVigilError(error, ErrorCodes.KV_CONFLICT)) throw error;
        await sleep(Math.random() * CAS_BACKOFF_STEP_MS * Math.min(attempt + 1, 10));
      }
    }
    throw new VigilError(
      ErrorCodes.KV_CONFLICT,
      `alert dedup: key ${key} kept changing under ${MAX_CAS_ATTEMPTS} attempts; the batch will be retried`,
    );
  }
}

/** The rule's own suppression when it has one, else the hub's dedup policy; undefined: no grouping. */
function groupingOf(alert: Alert, defaults: DedupPolicy | undefined): Grouping | undefined {
  const suppression = valueAt(alert.document, "vigil.alert.suppression") as
    | { key?: unknown; window_ms?: unknown }
    | undefined;
  if (suppression && typeof suppression.key === "string" && typeof suppression.window_ms === "number") {
    return { key: kvKey("s", alert.rule.id, suppression.key), windowMs: suppression.window_ms };
  }
  if (defaults === undefined || defaults.windowMs <= 0) return undefined;
  const values = defaults.fields.map((field) => valueAt(alert.document, field) ?? null);
  return { key: kvKey("d", alert.rule.id, JSON.stringify(values)), windowMs: defaults.windowMs };
}

/** Rule id + key, hashed: a valid KV key of fixed length whatever the values hold. */
function kvKey(kind: "s" | "d", ruleId: string, key: string): string {
  return `${kind}.${createHash("sha256").update(`${ruleId}\0${key}`).digest("hex").slice(0, 40)}`;
}

/** Late events (agents spool through outages) still count in the window they fall near. */
function covers(window: DedupWindow, timeMs: number): boolean {
  return timeMs > window.startMs - window.windowMs && timeMs < window.startMs + window.windowMs;
}

function setCount(alert: Alert, count: number, latest: Alert): void {
  const vigil = (alert.document.vigil ?? {}) as EcsDocument;
  const own = (vigil.alert ?? {}) as EcsDocument;
  vigil.alert = { ...own, count, last_seen: iso(Math.floor(latest.timestampUs / 1000)) };
  alert.document.vigil = vigil;
}

function eventIdOf(alert: Alert): string {
  const vigil = (alert.document.vigil ?? {}) as EcsDocument;
  return String(vigil.event_id ?? alert.id);
}

function valueAt(document: EcsDocument, path: string): unknown {
  let value: unknown = document;
  for (const part of path.split(".")) {
    if (typeof value !== "object" || value === null) return undefined;
    value = (value as EcsDocument)[part];
  }
  return value;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function encodeWindow(window: DedupWindow): Uint8Array {
  return Buffer.from(JSON.stringify(window));
}

function decodeWindow(value: Uint8Array): DedupWindow | undefined {
  try {
    const parsed = JSON.parse(Buffer.from(value).toString("utf8")) as DedupWindow;
    return typeof parsed.alertId === "string" && Number.isFinite(parsed.startMs) ? parsed : undefined;
  } catch {
    // An unreadable entry is treated as no window: the next alert opens a fresh one over it.
    return undefined;
  }
}
