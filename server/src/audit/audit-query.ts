import { AUDIT_STREAM, type Bus } from "@vigil/common";
import type { AuditRecord } from "./types";

export interface AuditQuery {
  /** ISO times: records at or after since, before until. */
  since?: string;
  until?: string;
  /** Actor id (token id, "config", "system"). */
  actor?: string;
  /** "token" matches token.create and token.revoke; "token.revoke" only that. */
  action?: string;
  /** Exact target, or a prefix ending in "/" ("rule/"). */
  target?: string;
  limit: number;
  /** Continue after this stream sequence (the nextCursor of the previous page). */
  cursor?: number;
}

export interface AuditPage {
  records: Array<AuditRecord & { seq: number }>;
  /** Pass as cursor for the next page; absent when the stream has nothing more to scan. */
  nextCursor?: number;
}

/** Messages read from the stream per round trip. */
const READ_CHUNK = 500;
/** One request scans at most this many records, then returns a cursor. */
const MAX_SCANNED = 20_000;

const decoder = new TextDecoder();

function matches(record: AuditRecord, query: AuditQuery, untilMs: number): boolean {
  if (query.actor && record.actor?.id !== query.actor) return false;
  if (query.action && record.action !== query.action && !record.action.startsWith(`${query.action}.`))
    return false;
  if (query.target) {
    const prefix = query.target.endsWith("/");
    if (prefix ? !record.target.startsWith(query.target) : record.target !== query.target) return false;
  }
  return Date.parse(record.time) < untilMs;
}

/**
 * Reads the audit stream in order (oldest first) from the cursor or `since`,
 * filtering as it goes; a page ends at `limit` matches, at `until`, or after
 * MAX_SCANNED records (the cursor says where to go on).
 */
export async function queryAudit(bus: Bus, query: AuditQuery): Promise<AuditPage> {
  const untilMs = query.until ? Date.parse(query.until) : Number.POSITIVE_INFINITY;
  const records: AuditPage["records"] = [];
  let startSeq = query.cursor !== undefined ? query.cursor + 1 : undefined;
  const startTimeMs = startSeq === undefined && query.since ? Date.parse(query.since) : undefined;
  let scanned = 0;
  let lastSeq: number | undefined;
  for (;;) {
    const chunk = await bus.readStream(AUDIT_STREAM, {
      ...(startSeq !== undefined ? { startSeq } : startTimeMs !== undefined ? { startTimeMs } : {}),
      limit: READ_CHUNK,
    });
    for (const message of chunk) {
      scanned++;
      lastSeq = message.seq;
      if (message.timeMs >= untilMs) return { records };
      let record: AuditRecord;
      try {
        record = JSON.parse(decoder.decode(message.data)) as AuditRecord;
      } catch {
        continue; // not written by BusAuditTrail: skipped, not fatal
      }
      if (!matches(record, query, untilMs)) continue;
      records.push({ ...record, seq: message.seq });
      if (records.length >= query.limit) return { records, nextCursor: message.seq };
    }
    if (chunk.length < READ_CHUNK) return { records };
    if (scanned >= MAX_SCANNED) return { records, nextCursor: lastSeq };
    startSeq = (lastSeq ?? 0) + 1;
  }
}
