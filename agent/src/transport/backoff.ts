/** Exponential backoff with full jitter: spreads thousands of agents reconnecting at once. */
export function backoffDelayMs(attempt: number, initialMs: number, maxMs: number): number {
  const ceiling = Math.min(maxMs, initialMs * 2 ** Math.min(attempt, 20));
  return Math.floor(ceiling / 2 + (Math.random() * ceiling) / 2);
}
