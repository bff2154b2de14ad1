import { fsync } from "node:fs";

export type FsyncPolicy = "batch" | "interval" | "never";

/**
 * Flushes segment files to disk off the event loop (libuv's thread pool), so a
 * slow disk never stalls the collectors. "batch": after every appended batch,
 * coalesced (one fsync in flight; appends meanwhile share the next one).
 * "interval": every intervalMs when something was written. "never": the
 * kernel writes back on its own (about 30 s). A write() is in the page cache
 * as soon as it returns, so a killed agent loses nothing under any policy; the
 * policy only bounds what a host crash or power loss can take.
 */
export class FsyncScheduler {
  private readonly dirty = new Set<number>();
  private running = false;
  private again = false;
  private timer: NodeJS.Timeout | undefined;
  /** fds closed by their owner once their last fsync is done. */
  private readonly closeAfterSync = new Map<number, () => void>();
  fsyncs = 0;
  fsyncErrors = 0;

  constructor(
    private readonly policy: FsyncPolicy,
    intervalMs: number,
    private readonly onError: (error: Error) => void,
  ) {
    if (policy === "interval") {
      this.timer = setInterval(() => this.flush(), intervalMs);
      this.timer.unref();
    }
  }

  /** Bytes were written to fd. */
  written(fd: number): void {
    this.dirty.add(fd);
    if (this.policy === "batch") this.flush();
  }

  /** The owner is done with fd: close it after its pending fsync (never, without one). */
  retire(fd: number, close: () => void): void {
    if (this.policy === "never" || !this.dirty.has(fd)) {
      if (this.running) this.closeAfterSync.set(fd, close);
      else close();
      return;
    }
    this.closeAfterSync.set(fd, close);
    this.flush();
  }

  private flush(): void {
    if (this.running) {
      this.again = true;
      return;
    }
    if (this.dirty.size === 0) {
      this.closeRetired();
      return;
    }
    const fds = [...this.dirty];
    this.dirty.clear();
    this.running = true;
    let left = fds.length;
    for (const fd of fds) {
      fsync(fd, (error) => {
        this.fsyncs++;
        if (error) {
          this.fsyncErrors++;
          this.onError(error);
        }
        if (--left > 0) return;
        this.running = false;
        this.closeRetired();
        if (this.again) {
          this.again = false;
          this.flush();
        }
      });
    }
  }

  private closeRetired(): void {
    for (const [fd, close] of this.closeAfterSync) {
      if (this.dirty.has(fd)) continue;
      this.closeAfterSync.delete(fd);
      close();
    }
  }

  /** Stops the timer; the caller fsyncs synchronously what it still holds. */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.dirty.clear();
    for (const close of this.closeAfterSync.values()) close();
    this.closeAfterSync.clear();
  }
}
