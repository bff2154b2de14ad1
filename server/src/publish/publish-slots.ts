/**
 * A bound on bus publishes awaiting their ack, server-wide. With thousands of
 * streams each publishing at once, the requests would queue in the NATS
 * client and time out there (the publish fails, the stream is cut, the agent
 * resends: more load); waiting here first keeps the bus's timeout for the bus.
 */
export class PublishSlots {
  private free: number;
  private readonly waiting: Array<() => void> = [];

  constructor(size: number) {
    this.free = size;
  }

  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.free > 0) this.free--;
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    try {
      return await work();
    } finally {
      // The slot passes straight to the next waiter, else back to the pool.
      const next = this.waiting.shift();
      if (next) next();
      else this.free++;
    }
  }
}
