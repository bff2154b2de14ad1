import type { Event } from "@vigil/proto";
import { eventKind } from "../spool/event-priority";

/** Events collected by kind, and the rate per kind between two reports (heartbeats). */
export class EventRates {
  private readonly totals = new Map<string, number>();
  private readonly previous = new Map<string, number>();
  private previousAtMs = performance.now();

  count(event: Event): void {
    const kind = eventKind(event);
    this.totals.set(kind, (this.totals.get(kind) ?? 0) + 1);
  }

  /** Events per second by kind since the previous call (kinds that saw none are left out). */
  takeRates(): Record<string, number> {
    const now = performance.now();
    const seconds = (now - this.previousAtMs) / 1000;
    this.previousAtMs = now;
    const rates: Record<string, number> = {};
    for (const [kind, total] of this.totals) {
      const delta = total - (this.previous.get(kind) ?? 0);
      this.previous.set(kind, total);
      if (delta > 0 && seconds > 0) rates[kind] = Math.round((delta / seconds) * 100) / 100;
    }
    return rates;
  }
}
