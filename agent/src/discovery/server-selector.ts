import { isLoopbackHost, type Logger } from "@vigil/common";
import { hostOf } from "./base-source";
import { rendezvousOrder } from "./rendezvous";
import type { LinkServers, ServerCandidate, ServerSource } from "./types";

export interface ServerSelectorOptions {
  agentId: string;
  source: ServerSource;
  /** Dialled while the source knows no server (Consul not answered yet, or none healthy). */
  fallback: readonly string[];
  /** Without TLS only loopback servers are dialled: events never cross the network in clear. */
  tls: boolean;
  /** A server whose stream failed is passed over for this long (unless no other is left). */
  failedCooldownMs: number;
  /** When the agent's preferred server changes but its own is still healthy, it moves after a random delay in [min, max]. */
  rebalanceMinMs: number;
  rebalanceMaxMs: number;
  logger: Logger;
  random?: () => number;
}

/**
 * Chooses the agent's server among the source's candidates by rendezvous
 * hashing of the agent id. Fails over at once (next in rendezvous order) when
 * its server leaves the healthy set or its stream fails; moves to a newly
 * preferred server (one added, or one back from failure) only after a random
 * delay of minutes, so a new server does not get a thundering herd.
 */
export class ServerSelector implements LinkServers {
  private current: string | undefined;
  private readonly failedUntil = new Map<string, number>();
  private readonly leaveListeners: Array<(reason: string) => void> = [];
  private changeWaiters: Array<() => void> = [];
  private rebalanceTimer: NodeJS.Timeout | undefined;
  private lastKnown: readonly ServerCandidate[] = [];
  private refusedPlaintext = new Set<string>();
  private readonly unsubscribe: () => void;
  readonly counters = { failovers: 0, rebalances: 0, rebalancesScheduled: 0, plaintextRefused: 0 };

  constructor(private readonly options: ServerSelectorOptions) {
    this.unsubscribe = options.source.onChange(() => this.onSourceChange());
  }

  /** Candidates in this agent's rendezvous order (what next() chooses from). */
  ranked(): ServerCandidate[] {
    return rendezvousOrder(this.options.agentId, this.candidates());
  }

  /** The server the link is on (undefined: not connected). */
  currentServer(): string | undefined {
    return this.current;
  }

  /** The server this agent would be on if nothing had failed. */
  preferred(): string | undefined {
    return this.ranked()[0]?.address;
  }

  next(failed?: string): string | undefined {
    const now = Date.now();
    if (failed) this.failedUntil.set(failed, now + this.options.failedCooldownMs);
    for (const [address, until] of this.failedUntil) if (until <= now) this.failedUntil.delete(address);
    const ranked = this.ranked();
    const usable = ranked.find((candidate) => !this.failedUntil.has(candidate.address));
    if (usable) return usable.address;
    // Every candidate failed lately: the one that failed longest ago.
    let oldest: string | undefined;
    for (const candidate of ranked) {
      const until = this.failedUntil.get(candidate.address) ?? 0;
      if (oldest === undefined || until < (this.failedUntil.get(oldest) ?? 0)) oldest = candidate.address;
    }
    return oldest;
  }

  connectedTo(server: string | undefined): void {
    this.current = server;
    if (server) this.failedUntil.delete(server);
    this.evaluate();
  }

  onLeave(listener: (reason: string) => void): void {
    this.leaveListeners.push(listener);
  }

  changed(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.changeWaiters = this.changeWaiters.filter((waiter) => waiter !== done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      this.changeWaiters.push(done);
    });
  }

  stats(): Record<string, number> {
    return { ...this.counters, candidates: this.candidates().length };
  }

  close(): void {
    this.unsubscribe();
    clearTimeout(this.rebalanceTimer);
    for (const waiter of [...this.changeWaiters]) waiter();
  }

  private candidates(): readonly ServerCandidate[] {
    const usable = this.options.source.current().filter((candidate) => this.mayDial(candidate.address));
    if (usable.length > 0) {
      this.lastKnown = usable;
      return usable;
    }
    if (this.options.fallback.length > 0) {
      return this.options.fallback.map((address) => ({ address, origin: "fallback" }));
    }
    // None healthy and no fallback: the last known servers are better than none.
    return this.lastKnown;
  }

  private mayDial(address: string): boolean {
    if (this.options.tls || isLoopbackHost(hostOf(address))) return true;
    if (!this.refusedPlaintext.has(address)) {
      this.refusedPlaintext.add(address);
      this.counters.plaintextRefused++;
      this.options.logger.warn(
        { server: address },
        "discovered server is not on loopback and tls is not configured: not dialled",
      );
    }
    return false;
  }

  private onSourceChange(): void {
    const waiters = this.changeWaiters;
    this.changeWaiters = [];
    for (const waiter of waiters) waiter();
    this.evaluate();
  }

  /** Leave now if our server is gone; schedule a slow move if another is now preferred. */
  private evaluate(): void {
    const current = this.current;
    if (!current) {
      this.cancelRebalance();
      return;
    }
    const healthy = this.options.source.current();
    if (healthy.length > 0 && !healthy.some((candidate) => candidate.address === current)) {
      this.cancelRebalance();
      this.counters.failovers++;
      this.leave(`${current} left the healthy set`);
      return;
    }
    const preferred = this.preferred();
    if (!preferred || preferred === current) {
      this.cancelRebalance();
      return;
    }
    if (this.rebalanceTimer) return;
    const { rebalanceMinMs, rebalanceMaxMs } = this.options;
    const delay = Math.round(
      rebalanceMinMs + (this.options.random ?? Math.random)() * (rebalanceMaxMs - rebalanceMinMs),
    );
    this.counters.rebalancesScheduled++;
    this.options.logger.info(
      { server: current, preferred, inMs: delay },
      "preferred server changed: moving later",
    );
    this.rebalanceTimer = setTimeout(() => {
      this.rebalanceTimer = undefined;
      const now = this.preferred();
      if (!this.current || !now || now === this.current) return;
      if ((this.failedUntil.get(now) ?? 0) > Date.now()) {
        this.evaluate();
        return;
      }
      this.counters.rebalances++;
      this.leave(`rebalancing to ${now}`);
    }, delay);
    this.rebalanceTimer.unref();
  }

  private cancelRebalance(): void {
    clearTimeout(this.rebalanceTimer);
    this.rebalanceTimer = undefined;
  }

  private leave(reason: string): void {
    this.options.logger.info({ server: this.current, reason }, "leaving server");
    for (const listener of this.leaveListeners) listener(reason);
  }
}
