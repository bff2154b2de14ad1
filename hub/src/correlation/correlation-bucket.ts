// Where correlation windows live: one KV bucket shared by every hub, one key
// per (correlation rule, group-by values). Any hub can take any event because
// no window is held in a hub's memory.

import { createHash } from "node:crypto";
import type { KvBucketSpec } from "@vigil/common";
import { MAX_TIMESPAN_MS } from "./timespan";
import type { CorrelationRule } from "./types";

/**
 * A key expires one hour past the longest timespan after its last write: a
 * window is rewritten by every event it counts, so a key that has not been
 * written for longer holds nothing a window could still count.
 */
export const CORRELATION_BUCKET: KvBucketSpec = {
  name: "vigil-correlation",
  history: 1,
  ttlMs: MAX_TIMESPAN_MS + 3_600_000,
  maxValueBytes: 512 * 1024,
};

const KEY_PREFIX = "window";

function hash(text: string, length: number): string {
  return createHash("sha256").update(text).digest("base64url").slice(0, length);
}

/**
 * What a window's state depends on: a changed definition (other rules, keys,
 * field or timespan) starts fresh windows instead of reading old ones wrongly.
 */
export function definitionHash(rule: CorrelationRule): string {
  return hash(
    JSON.stringify([rule.type, rule.referenced, rule.timespanMs, rule.threshold, rule.ceiling]),
    10,
  );
}

/** KV keys are subject tokens: the rule id is hashed too, whatever characters it has. */
export function windowKey(
  rule: CorrelationRule,
  definition: string,
  groupValues: readonly unknown[],
): string {
  return `${KEY_PREFIX}.${hash(rule.id, 16)}.${definition}.${hash(JSON.stringify(groupValues), 27)}`;
}
