import { ErrorCodes, VigilError } from "@vigil/common";

/** A collector option that must be an integer in [min, max]; the error names the key. */
export function integerOption(
  key: string,
  value: number | undefined,
  fallback: number,
  min: number,
  max: number,
): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new VigilError(
      ErrorCodes.CONFIG_INVALID,
      `${key} must be an integer from ${min} to ${max}, got ${value}`,
    );
  }
  return value;
}
