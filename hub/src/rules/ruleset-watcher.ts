import type { KvBucket, KvEntry, KvWatch, Logger } from "@vigil/common";
import { compileRuleSources } from "../correlation/compile-rule-sources";
import { Ruleset } from "../sigma";
import type { LiveRuleEvaluator } from "./live-rule-evaluator";
import { SigmaRuleEvaluator } from "./rule-evaluator";
import {
  CURRENT_KEY,
  type CurrentPointer,
  decodeJson,
  RuleBodyCache,
  readCurrentPointer,
  readRulesetVersion,
} from "./ruleset-kv";

export interface RulesetWatcherOptions {
  kv: KvBucket;
  evaluator: LiveRuleEvaluator;
  logger: Logger;
  /** Wait before reading a version again after the bucket could not be read. */
  retryDelayMs?: number;
}

type InstallOutcome = "installed" | "rejected" | "unreadable";

/**
 * Follows the ruleset bucket's `current` pointer: each new version is read,
 * compiled once and swapped into the hub's evaluator, without a restart. A
 * version that does not compile (the server validated it, so this means a
 * hand-edited bucket or a newer server's syntax) is logged and the previous
 * one stays; a bucket that cannot be read is retried.
 */
export class RulesetWatcher {
  private readonly bodies = new RuleBodyCache();
  private watch: KvWatch | undefined;
  private chain: Promise<void> = Promise.resolve();
  private retryTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** Newest version the pointer has named. */
  private wanted = 0;
  /** Version in the evaluator; 0 while the rules directory is in use. */
  private installed = 0;
  /** Newest version that failed to compile; not tried again. */
  private rejected = 0;
  private rejectedCount = 0;

  constructor(private readonly options: RulesetWatcherOptions) {}

  /** Versions that did not compile here since start. */
  get rejectedVersions(): number {
    return this.rejectedCount;
  }

  /** The KV version being evaluated, 0 when the hub still runs its rules directory. */
  get version(): number {
    return this.installed;
  }

  /**
   * Installs the version the pointer names now, before the hub consumes, so
   * its first batch already runs it. False when the bucket holds no ruleset.
   */
  async loadCurrent(): Promise<boolean> {
    const pointer = await readCurrentPointer(this.options.kv);
    if (pointer === undefined) return false;
    this.wanted = Math.max(this.wanted, pointer.version);
    return (await this.install(pointer.version)) === "installed";
  }

  async start(): Promise<void> {
    this.watch = await this.options.kv.watch({ key: CURRENT_KEY, initialValues: true }, (entry) =>
      this.onPointer(entry),
    );
  }

  stop(): void {
    this.stopped = true;
    this.watch?.stop();
    this.watch = undefined;
    if (this.retryTimer) clearTimeout(this.retryTimer);
  }

  /** Resolves once every pointer change seen so far has been handled. */
  settled(): Promise<void> {
    return this.chain;
  }

  private onPointer(entry: KvEntry): void {
    if (entry.operation !== "put") return;
    let pointer: CurrentPointer;
    try {
      pointer = decodeJson<CurrentPointer>(entry.value, `${this.options.kv.name}/${CURRENT_KEY}`);
    } catch (error) {
      this.options.logger.error({ err: error }, "ruleset pointer unreadable; keeping the current ruleset");
      return;
    }
    if (!Number.isSafeInteger(pointer.version) || pointer.version <= this.wanted) return;
    this.wanted = pointer.version;
    this.chain = this.chain.then(() => this.catchUp());
  }

  /** Installs the newest wanted version; intermediate versions are skipped. */
  private async catchUp(): Promise<void> {
    while (!this.stopped && this.wanted > this.installed && this.wanted > this.rejected) {
      const target = this.wanted;
      const outcome = await this.install(target);
      if (outcome === "unreadable") {
        this.retryTimer = setTimeout(() => {
          this.chain = this.chain.then(() => this.catchUp());
        }, this.options.retryDelayMs ?? 1000);
        return;
      }
    }
  }

  private async install(version: number): Promise<InstallOutcome> {
    const { kv, evaluator, logger } = this.options;
    let loaded: Awaited<ReturnType<typeof readRulesetVersion>>;
    try {
      loaded = await readRulesetVersion(kv, version, this.bodies);
    } catch (error) {
      logger.error({ err: error, version }, "cannot read ruleset version; will retry");
      return "unreadable";
    }
    if (loaded === undefined) {
      logger.error({ version }, "ruleset pointer names a version that is not stored; will retry");
      return "unreadable";
    }
    const compiled = compileRuleSources(
      loaded.rules
        .filter((rule) => rule.enabled)
        .map((rule) => ({ source: `${kv.name}/ruleset.${version}`, text: rule.yaml })),
    );
    if (compiled.errors.length > 0) {
      for (const error of compiled.errors) logger.error({ code: error.code, version }, error.message);
      logger.error(
        { version, keeping: evaluator.version },
        "ruleset version does not compile; keeping the previous one",
      );
      this.rejected = Math.max(this.rejected, version);
      this.rejectedCount++;
      return "rejected";
    }
    if (version < this.installed) return "installed";
    evaluator.swap(
      new SigmaRuleEvaluator(new Ruleset(compiled.rules), String(version), compiled.correlations),
    );
    this.installed = version;
    logger.info(
      {
        version,
        rules: compiled.rules.length,
        correlations: compiled.correlations.length,
        change: loaded.change.action,
      },
      "ruleset installed",
    );
    return "installed";
  }
}
