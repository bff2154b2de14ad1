import { ErrorCodes, VigilError } from "../errors";

// The errors both KV implementations raise, worded the same way.

export function valueTooLarge(bucket: string, key: string, bytes: number, limit: number): VigilError {
  return new VigilError(
    ErrorCodes.KV_VALUE_TOO_LARGE,
    `kv bucket "${bucket}": the value for key "${key}" is ${bytes} bytes, over the bucket's ${limit}-byte limit`,
  );
}

export function keyExists(bucket: string, key: string, cause?: unknown): VigilError {
  return new VigilError(ErrorCodes.KV_CONFLICT, `kv bucket "${bucket}": key "${key}" exists already`, {
    cause,
  });
}

export function revisionMismatch(bucket: string, key: string, expected: number, cause?: unknown): VigilError {
  return new VigilError(
    ErrorCodes.KV_CONFLICT,
    `kv bucket "${bucket}": key "${key}" is no longer at revision ${expected} (changed or absent); re-read and retry`,
    { cause },
  );
}

/** An operation on a bucket of a closed in-process bus (memory or SQLite-backed). */
export function bucketClosed(bucket: string): VigilError {
  return new VigilError(ErrorCodes.BUS_UNAVAILABLE, `kv bucket "${bucket}": the in-process bus is closed`);
}
