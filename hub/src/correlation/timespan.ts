// Sigma timespans: a number and one lower-case unit letter ("30s", "5m", "1h", "1d").

const TIMESPAN = /^([1-9][0-9]{0,6})([smhd])$/;
const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/**
 * The longest window accepted. Window state lives in a KV bucket whose TTL
 * must cover every window (correlation-bucket.ts), so the bound is fixed.
 */
export const MAX_TIMESPAN_MS = UNIT_MS.d;

/** Milliseconds, or a reason the text is not a timespan Vigil can keep. */
export function parseTimespan(text: unknown): { ok: true; ms: number } | { ok: false; reason: string } {
  const match = typeof text === "string" ? TIMESPAN.exec(text) : null;
  if (match === null) {
    return {
      ok: false,
      reason: `'${String(text)}' is not a timespan (a number and s, m, h or d, e.g. 5m)`,
    };
  }
  const ms = Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS];
  if (ms > MAX_TIMESPAN_MS)
    return { ok: false, reason: `'${text}' is longer than the 1d Vigil keeps windows` };
  return { ok: true, ms };
}
