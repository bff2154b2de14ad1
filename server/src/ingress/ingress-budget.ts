/**
 * The server-wide bound on agent bytes held between "read from a stream" and
 * "acked" (decoded batches waiting for, or in, their bus publish). Over the
 * bound, sessions stop reading their streams (HTTP/2 flow control then stops
 * the agents) until enough is released.
 */
export class IngressBudget {
  private held = 0;
  private waiters = new Set<() => void>();

  constructor(
    readonly maxBytes: number,
    private readonly onChange: (heldBytes: number) => void = () => undefined,
  ) {}

  heldBytes(): number {
    return this.held;
  }

  exhausted(): boolean {
    return this.held >= this.maxBytes;
  }

  hold(bytes: number): void {
    this.held += bytes;
    this.onChange(this.held);
  }

  release(bytes: number): void {
    this.held -= bytes;
    this.onChange(this.held);
    if (this.held < this.maxBytes && this.waiters.size > 0) {
      const waiters = this.waiters;
      this.waiters = new Set();
      for (const waiter of waiters) waiter();
    }
  }

  /** `waiter` runs once, the next time the held bytes fall under the bound. */
  whenRoom(waiter: () => void): void {
    this.waiters.add(waiter);
  }

  forget(waiter: () => void): void {
    this.waiters.delete(waiter);
  }
}
