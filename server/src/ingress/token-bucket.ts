/**
 * Per-agent event rate limit. take(n) always takes (the balance may go
 * negative) and returns how long the caller must wait before acting on the n
 * events, so a batch larger than the burst is delayed, never refused.
 */
export class TokenBucket {
  private tokens: number;
  private refilledAt: number;

  constructor(
    /** Tokens added per second (0: no limit). */
    private readonly ratePerSecond: number,
    /** Most tokens kept while idle. */
    private readonly burst: number,
    private readonly now: () => number = Date.now,
  ) {
    this.tokens = burst;
    this.refilledAt = now();
  }

  /** Milliseconds to wait before the `count` events may go on (0: at once). */
  take(count: number): number {
    if (this.ratePerSecond <= 0) return 0;
    const now = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.refilledAt) * this.ratePerSecond) / 1000);
    this.refilledAt = now;
    this.tokens -= count;
    return this.tokens >= 0 ? 0 : Math.ceil((-this.tokens * 1000) / this.ratePerSecond);
  }
}
