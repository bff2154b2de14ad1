import type { KvBucketSpec } from "./types";

// Bucket names, keys and key patterns accepted by both KV implementations:
// NATS KV's rules (keys are subject tokens), so embedded mode refuses what
// distributed mode would.

const BUCKET_NAME = /^[A-Za-z0-9_-]{1,64}$/;
const KEY_TOKEN = /^[-/=\w]+$/;
/** NATS subjects are limited in practice; long keys only waste the bucket. */
export const MAX_KEY_LENGTH = 1024;
export const MAX_KV_HISTORY = 64;

export function validateBucketSpec(spec: KvBucketSpec): void {
  const where = `kv bucket "${spec.name}"`;
  if (!BUCKET_NAME.test(spec.name)) {
    throw new TypeError(`${where}: the name must be 1-64 characters of A-Z, a-z, 0-9, _ and -`);
  }
  if (!Number.isInteger(spec.history) || spec.history < 1 || spec.history > MAX_KV_HISTORY) {
    throw new TypeError(
      `${where}: history must be an integer from 1 to ${MAX_KV_HISTORY}, got ${spec.history}`,
    );
  }
  if (!Number.isInteger(spec.ttlMs) || spec.ttlMs < 0) {
    throw new TypeError(`${where}: ttlMs must be a non-negative integer, got ${spec.ttlMs}`);
  }
  if (!Number.isInteger(spec.maxValueBytes) || spec.maxValueBytes < 1) {
    throw new TypeError(`${where}: maxValueBytes must be a positive integer, got ${spec.maxValueBytes}`);
  }
}

/** A concrete key: dot-separated tokens of letters, digits, _ - / =. */
export function validateKey(bucket: string, key: string): void {
  if (key.length === 0 || key.length > MAX_KEY_LENGTH || !key.split(".").every((t) => KEY_TOKEN.test(t))) {
    throw new TypeError(
      `kv bucket "${bucket}": invalid key "${preview(key)}" (dot-separated tokens of A-Z a-z 0-9 _ - / =, at most ${MAX_KEY_LENGTH} characters)`,
    );
  }
}

/** A key or a pattern: "*" matches one token, a final ">" the rest. */
export function validateKeyPattern(bucket: string, pattern: string): void {
  const tokens = pattern.split(".");
  const ok =
    pattern.length > 0 &&
    pattern.length <= MAX_KEY_LENGTH &&
    tokens.every((t, i) => t === "*" || (t === ">" && i === tokens.length - 1) || KEY_TOKEN.test(t));
  if (!ok) {
    throw new TypeError(
      `kv bucket "${bucket}": invalid key pattern "${preview(pattern)}" (tokens, "*" for one token, a final ">" for the rest)`,
    );
  }
}

function preview(text: string): string {
  return text.length > 80 ? `${text.slice(0, 80)}...` : text;
}
