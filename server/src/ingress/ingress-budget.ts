/**
 * The server-wide bound on agent bytes held between "read from a stream" and
 * "acked" (decoded batches waiting for, or in, their bus publish). Over the
 * bound, sessions stop reading their streams (HTTP/2 flow control then stops
 * the agents) until enough is released.
 */
export class IngressBudget {
  private held = 0;
  /** Paused sessions, oldest first. */
  private readonly waiters = new Set<() => void>();
  /** Running average message size: how many waiters the room released can take. */
  private averageBytes = 0;

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
    this.averageBytes =
      this.averageBytes === 0 ? bytes : this.averageBytes + (bytes - this.averageBytes) / 64;
    this.held += bytes;
    this.onChange(this.held);
  }

  release(bytes: number): void {
    this.held -= bytes;
    this.onChange(this.held);
    if (this.held >= this.maxBytes || this.waiters.size === 0) return;
    // Wake the longest-paused sessions, as many as the room can take, not all of
    // them: thousands woken per release would each read one message and pause
    // again. Below half the bound every one is woken: a woken session may have
    // nothing to send, and the last release must not leave anyone paused.
    let wake =
      this.held < this.maxBytes / 2
        ? this.waiters.size
        : Math.max(1, Math.floor((this.maxBytes - this.held) / Math.max(1, this.averageBytes)));
    for (const waiter of this.waiters) {
      if (wake-- <= 0) break;
      this.waiters.delete(waiter);
      waiter();
    }
  }

  /** `waiter` runs once, when the held bytes are under the bound and its turn comes. */
  whenRoom(waiter: () => void): void {
    this.waiters.add(waiter);
  }

  forget(waiter: () => void): void {
    this.waiters.delete(waiter);
  }
}
