import { ErrorCodes, VigilError } from "../errors";
import type { ConsumeOptions, ReadStreamOptions, StreamSpec } from "./types";

// Both buses check specs the same way, so a spec that works embedded also
// works against NATS (which enforces these rules server-side).

/** NATS' default duplicate window, used when a spec says 0. */
export const DEFAULT_DUPLICATE_WINDOW_MS = 120_000;

const NAME_PATTERN = /^[A-Za-z0-9_-]+$/;

function invalid(message: string): VigilError {
  return new VigilError(ErrorCodes.BUS_STREAM, message);
}

export function validateStreamSpec(spec: StreamSpec): void {
  if (!NAME_PATTERN.test(spec.name)) {
    throw invalid(`stream name "${spec.name}" must match ${NAME_PATTERN}`);
  }
  if (spec.subjects.length === 0) throw invalid(`stream ${spec.name}: subjects must not be empty`);
  for (const subject of spec.subjects) {
    if (subject.length === 0 || /\s/.test(subject)) {
      throw invalid(`stream ${spec.name}: invalid subject "${subject}"`);
    }
  }
  for (const key of ["duplicateWindowMs", "maxAgeMs", "maxBytes"] as const) {
    if (!Number.isInteger(spec[key]) || spec[key] < 0) {
      throw invalid(`stream ${spec.name}: ${key} must be a non-negative integer, got ${spec[key]}`);
    }
  }
  if (spec.maxAgeMs > 0 && effectiveDuplicateWindowMs(spec) > spec.maxAgeMs) {
    throw invalid(`stream ${spec.name}: duplicateWindowMs must not exceed maxAgeMs`);
  }
}

/** The window actually applied: 0 means the NATS default, capped by maxAge. */
export function effectiveDuplicateWindowMs(spec: StreamSpec): number {
  if (spec.duplicateWindowMs > 0) return spec.duplicateWindowMs;
  return spec.maxAgeMs > 0
    ? Math.min(DEFAULT_DUPLICATE_WINDOW_MS, spec.maxAgeMs)
    : DEFAULT_DUPLICATE_WINDOW_MS;
}

export function validateConsumeOptions(options: ConsumeOptions): void {
  const bad = (message: string) =>
    new VigilError(ErrorCodes.BUS_STREAM, `consumer ${options.durable}: ${message}`);
  if (!NAME_PATTERN.test(options.durable)) throw bad(`durable name must match ${NAME_PATTERN}`);
  for (const key of ["maxInFlight", "ackWaitMs", "maxDeliver"] as const) {
    if (!Number.isInteger(options[key]) || options[key] < 1) {
      throw bad(`${key} must be a positive integer, got ${options[key]}`);
    }
  }
}

/** Largest `limit` of one readStream call: callers page with startSeq. */
export const MAX_READ_STREAM_LIMIT = 10_000;

export function validateReadStreamOptions(stream: string, options: ReadStreamOptions): void {
  const where = `read of stream ${stream}`;
  if (!NAME_PATTERN.test(stream)) throw invalid(`${where}: stream name must match ${NAME_PATTERN}`);
  if (!Number.isInteger(options.limit) || options.limit < 1 || options.limit > MAX_READ_STREAM_LIMIT) {
    throw invalid(
      `${where}: limit must be an integer from 1 to ${MAX_READ_STREAM_LIMIT}, got ${options.limit}`,
    );
  }
  if (options.startSeq !== undefined && (!Number.isInteger(options.startSeq) || options.startSeq < 1)) {
    throw invalid(`${where}: startSeq must be a positive integer, got ${options.startSeq}`);
  }
  if (
    options.startTimeMs !== undefined &&
    (!Number.isFinite(options.startTimeMs) || options.startTimeMs < 0)
  ) {
    throw invalid(`${where}: startTimeMs must be a non-negative number, got ${options.startTimeMs}`);
  }
  if (options.subject !== undefined && (options.subject.length === 0 || /\s/.test(options.subject))) {
    throw invalid(`${where}: invalid subject "${options.subject}"`);
  }
}
