// Per source address token buckets in front of the agent-facing secrets: each
// Enroll call and each failed credential check from an address takes a token,
// so a host guessing tokens or hammering the KV bucket is slowed to the refill
// rate while well-behaved agents (one enrolment, then successful Connects)
// never notice.

export interface SourceRateLimitSettings {
  /** Tokens each address may spend at once. */
  burst: number;
  /** Tokens given back per second. */
  perSecond: number;
  /** Addresses tracked at most; full (idle) buckets are forgotten first. */
  maxSources: number;
}

export type RateDecision = { allowed: true } | { allowed: false; retryAfterMs: number };

interface Bucket {
  tokens: number;
  refilledAt: number;
}

export class SourceRateLimit {
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    private readonly settings: SourceRateLimitSettings,
    private readonly now: () => number = Date.now,
  ) {}

  /** Takes one token from `source`'s bucket when it has one. */
  take(source: string): RateDecision {
    const bucket = this.refilled(source);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return { allowed: true };
    }
    return {
      allowed: false,
      retryAfterMs: Math.ceil(((1 - bucket.tokens) * 1000) / this.settings.perSecond),
    };
  }

  /** Whether `source` has a token left, without taking it. */
  check(source: string): RateDecision {
    const bucket = this.buckets.has(source) ? this.refilled(source) : undefined;
    if (bucket === undefined || bucket.tokens >= 1) return { allowed: true };
    return {
      allowed: false,
      retryAfterMs: Math.ceil(((1 - bucket.tokens) * 1000) / this.settings.perSecond),
    };
  }

  /** Addresses currently tracked. */
  size(): number {
    return this.buckets.size;
  }

  private refilled(source: string): Bucket {
    const now = this.now();
    let bucket = this.buckets.get(source);
    if (bucket === undefined) {
      if (this.buckets.size >= this.settings.maxSources) this.evict(now);
      bucket = { tokens: this.settings.burst, refilledAt: now };
      this.buckets.set(source, bucket);
      return bucket;
    }
    const elapsed = Math.max(0, now - bucket.refilledAt);
    bucket.tokens = Math.min(this.settings.burst, bucket.tokens + (elapsed * this.settings.perSecond) / 1000);
    bucket.refilledAt = now;
    return bucket;
  }

  /** Forgets buckets that have refilled (they hold no state); else the oldest-created ones. */
  private evict(now: number): void {
    const fullAfterMs = (this.settings.burst * 1000) / this.settings.perSecond;
    for (const [source, bucket] of this.buckets) {
      if (now - bucket.refilledAt >= fullAfterMs) this.buckets.delete(source);
    }
    for (const source of this.buckets.keys()) {
      if (this.buckets.size < this.settings.maxSources) break;
      this.buckets.delete(source);
    }
  }
}

/** The address part of a grpc-js peer ("ipv4:10.0.0.7:51234", "[::1]:5000", "10.0.0.7:51234"). */
export function peerAddress(peer: string): string {
  const bare = peer.replace(/^ipv[46]:/, "");
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(bare);
  if (bracketed) return bracketed[1] as string;
  const colons = bare.split(":").length - 1;
  // One colon: host:port. More: an unbracketed IPv6 address (no port to strip).
  return colons === 1 ? (bare.split(":")[0] as string) : bare;
}
