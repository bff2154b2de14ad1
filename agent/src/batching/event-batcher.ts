import type { Event } from "@vigil/proto";

export interface BatcherOptions {
  maxEvents: number;
  flushIntervalMs: number;
}

/**
 * Groups events into batches: a batch leaves when it is full or when its
 * oldest event has waited flushIntervalMs, whichever comes first.
 */
export class EventBatcher {
  private current: Event[] = [];
  private timer: NodeJS.Timeout | undefined;

  private options: BatcherOptions;

  constructor(
    options: BatcherOptions,
    private readonly emit: (events: Event[]) => void,
  ) {
    this.options = { ...options };
  }

  /** New limits (server ConfigUpdate): the current batch leaves now if it is already full. */
  setOptions(options: BatcherOptions): void {
    this.options = { ...options };
    if (this.current.length >= options.maxEvents) this.flush();
  }

  currentOptions(): BatcherOptions {
    return { ...this.options };
  }

  add(event: Event): void {
    this.current.push(event);
    if (this.current.length >= this.options.maxEvents) {
      this.flush();
    } else if (!this.timer) {
      this.timer = setTimeout(() => this.flush(), this.options.flushIntervalMs);
    }
  }

  flush(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.current.length === 0) return;
    const batch = this.current;
    this.current = [];
    this.emit(batch);
  }

  pendingEvents(): number {
    return this.current.length;
  }
}
