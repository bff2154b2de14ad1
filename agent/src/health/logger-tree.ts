import type { Logger } from "@vigil/common";

/**
 * A logger whose every descendant (child of a child…) can have its level
 * changed at once: pino children copy their parent's level when they are
 * made and do not follow later changes, so the tree remembers them (weakly).
 */
export class LoggerTree {
  readonly root: Logger;
  /** The level the agent started with: what an update without log.level returns to. */
  readonly initialLevel: string;
  private readonly members = new Set<WeakRef<Logger>>();
  private level: string;

  constructor(base: Logger) {
    this.root = this.track(base.child({}));
    this.level = this.root.level;
    this.initialLevel = this.level;
  }

  currentLevel(): string {
    return this.level;
  }

  setLevel(level: string): void {
    this.level = level;
    for (const ref of this.members) {
      const logger = ref.deref();
      if (logger) logger.level = level;
      else this.members.delete(ref);
    }
  }

  private track(logger: Logger): Logger {
    this.members.add(new WeakRef(logger));
    const child = logger.child.bind(logger) as unknown as (bindings: object, options?: object) => Logger;
    const tracked = (bindings: object, options?: object): Logger => this.track(child(bindings, options));
    (logger as unknown as { child: typeof tracked }).child = tracked;
    return logger;
  }
}
