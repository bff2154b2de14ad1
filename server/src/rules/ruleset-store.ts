import { ErrorCodes, isVigilError, type KvBucket, type Logger } from "@vigil/common";
import {
  bodyKey,
  CURRENT_KEY,
  encodeJson,
  RuleBodyCache,
  type RulesetChange,
  type RulesetRule,
  type RulesetVersion,
  readCurrentPointer,
  readRulesetVersion,
  readStoredDocument,
  type StoredRuleEntry,
  type StoredRulesetDocument,
  VERSION_KEYS,
  versionKey,
  versionOfKey,
} from "@vigil/hub";
import { RuleChangeRefused } from "./rule-change-refused";

export interface RulesetStoreOptions {
  kv: KvBucket;
  logger: Logger;
  /** A version document larger than this stores its rule bodies under their own keys. */
  maxInlineBytes?: number;
  /** Compare-and-set attempts before a change gives up (each lost race is another server's change landing). */
  maxAttempts?: number;
}

/** What a version list shows; kept in memory because versions never change. */
export interface RulesetVersionSummary {
  version: number;
  parent?: number;
  change: RulesetChange;
  rules: number;
  enabled: number;
}

/** A change computes the next rule list from the current version (or throws RuleChangeRefused). */
export type RulesetMutation = (current: RulesetVersion) => {
  rules: RulesetRule[];
  change: Omit<RulesetChange, "time">;
};

const DEFAULT_MAX_INLINE_BYTES = 512 * 1024;
const DEFAULT_MAX_ATTEMPTS = 50;
const MAX_BACKOFF_MS = 200;

function isConflict(error: unknown): boolean {
  return isVigilError(error) && error.code === ErrorCodes.KV_CONFLICT;
}

/**
 * Ruleset versions in the KV bucket. A change writes version n+1 with
 * create-if-absent, so of two servers changing rules at once exactly one gets
 * n+1 and the other re-reads and retries on top of it: no update is lost.
 * The `current` pointer then moves forward with compare-and-set. A writer that
 * died between the two leaves the pointer behind; the next writer finds the
 * newer version by probing and moves the pointer for it.
 */
export class RulesetStore {
  private readonly bodies = new RuleBodyCache();
  private readonly summaries = new Map<number, RulesetVersionSummary>();
  private readonly maxInlineBytes: number;
  private readonly maxAttempts: number;

  constructor(private readonly options: RulesetStoreOptions) {
    this.maxInlineBytes = options.maxInlineBytes ?? DEFAULT_MAX_INLINE_BYTES;
    this.maxAttempts = options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
  }

  /**
   * Stores `rules` as version 1 when the bucket holds no ruleset; two servers
   * starting together seed once. Returns the version created, or undefined.
   */
  async seed(rules: RulesetRule[], actor: RulesetChange["actor"]): Promise<number | undefined> {
    if ((await this.latestVersion()) !== undefined) return undefined;
    const change: RulesetChange = { action: "ruleset.seed", actor, time: new Date().toISOString() };
    try {
      await this.options.kv.create(versionKey(1), await this.encodeDocument(1, undefined, change, rules));
    } catch (error) {
      if (!isConflict(error)) throw error;
      await this.advancePointer(1);
      return undefined;
    }
    await this.advancePointer(1);
    return 1;
  }

  /** The newest version's number, or undefined when the bucket holds none. */
  latest(): Promise<number | undefined> {
    return this.latestVersion();
  }

  /** The newest version, or undefined when the bucket holds none. */
  async current(): Promise<RulesetVersion | undefined> {
    const version = await this.latestVersion();
    return version === undefined ? undefined : this.version(version);
  }

  async version(version: number): Promise<RulesetVersion | undefined> {
    return readRulesetVersion(this.options.kv, version, this.bodies);
  }

  /** Newest first; at most `limit`, older than `before` when given. */
  async versions(limit: number, before?: number): Promise<RulesetVersionSummary[]> {
    const numbers = (await this.options.kv.keys(VERSION_KEYS))
      .map(versionOfKey)
      .filter(
        (version): version is number => version !== undefined && (before === undefined || version < before),
      )
      .sort((a, b) => b - a)
      .slice(0, limit);
    const out: RulesetVersionSummary[] = [];
    for (const version of numbers) {
      const summary = await this.summary(version);
      if (summary) out.push(summary);
    }
    return out;
  }

  /** Applies a change as a new version; returns the version it was applied to and the new one. */
  async apply(mutation: RulesetMutation): Promise<{ before: RulesetVersion; after: RulesetVersion }> {
    const { kv, logger } = this.options;
    for (let attempt = 1; attempt <= this.maxAttempts; attempt++) {
      const base = await this.current();
      if (base === undefined)
        throw new RuleChangeRefused(503, "no ruleset stored yet (the server seeds one at start)");
      const { rules, change } = mutation(base);
      const next = base.version + 1;
      const stamped: RulesetChange = { ...change, time: new Date().toISOString() };
      try {
        await kv.create(versionKey(next), await this.encodeDocument(next, base.version, stamped, rules));
      } catch (error) {
        if (!isConflict(error)) throw error;
        logger.debug(
          { version: next, attempt },
          "ruleset version taken by another change; retrying on top of it",
        );
        // Jittered, growing pause: writers that keep colliding spread out instead of starving one another.
        await new Promise((resolve) =>
          setTimeout(resolve, Math.random() * Math.min(MAX_BACKOFF_MS, 2 ** attempt)),
        );
        continue;
      }
      await this.advancePointer(next);
      return { before: base, after: { version: next, parent: base.version, change: stamped, rules } };
    }
    throw new RuleChangeRefused(
      503,
      `ruleset changed under this request ${this.maxAttempts} times in a row; try again`,
    );
  }

  /** The pointer's version, or a newer stored one a writer did not get to point at. */
  private async latestVersion(): Promise<number | undefined> {
    const pointer = await readCurrentPointer(this.options.kv);
    let version = pointer?.version ?? 0;
    while ((await this.options.kv.get(versionKey(version + 1))) !== undefined) version++;
    if (version === 0) return undefined;
    if (version !== pointer?.version) await this.advancePointer(version);
    return version;
  }

  /** Moves `current` forward to `version` (never back) with compare-and-set. */
  private async advancePointer(version: number): Promise<void> {
    const { kv } = this.options;
    for (;;) {
      const pointer = await readCurrentPointer(kv);
      if (pointer !== undefined && pointer.version >= version) return;
      try {
        if (pointer === undefined) await kv.create(CURRENT_KEY, encodeJson({ version }));
        else await kv.update(CURRENT_KEY, encodeJson({ version }), pointer.revision);
        return;
      } catch (error) {
        if (!isConflict(error)) throw error;
      }
    }
  }

  private async summary(version: number): Promise<RulesetVersionSummary | undefined> {
    const cached = this.summaries.get(version);
    if (cached) return cached;
    const document = await readStoredDocument(this.options.kv, version);
    if (document === undefined) return undefined;
    const summary: RulesetVersionSummary = {
      version: document.version,
      parent: document.parent,
      change: document.change,
      rules: document.rules.length,
      enabled: document.rules.filter((rule) => rule.enabled).length,
    };
    this.summaries.set(version, summary);
    return summary;
  }

  /**
   * The version document with bodies inline when it fits, else with bodies
   * under their hash (written first, once each, so a reader never finds a
   * version whose bodies are missing).
   */
  private async encodeDocument(
    version: number,
    parent: number | undefined,
    change: RulesetChange,
    rules: RulesetRule[],
  ): Promise<Uint8Array> {
    const inline: StoredRulesetDocument = {
      version,
      parent,
      change,
      rules: rules.map((rule) => ({
        id: rule.id,
        enabled: rule.enabled,
        sha256: rule.sha256,
        yaml: rule.yaml,
      })),
    };
    const encoded = encodeJson(inline);
    if (encoded.byteLength <= this.maxInlineBytes) return encoded;
    const referenced: StoredRuleEntry[] = [];
    for (const rule of rules) {
      await this.storeBody(rule);
      referenced.push({ id: rule.id, enabled: rule.enabled, sha256: rule.sha256 });
    }
    return encodeJson({ ...inline, rules: referenced });
  }

  private async storeBody(rule: RulesetRule): Promise<void> {
    try {
      await this.options.kv.create(bodyKey(rule.sha256), new TextEncoder().encode(rule.yaml));
    } catch (error) {
      // Same hash, same body: another version stored it already.
      if (!isConflict(error)) throw error;
    }
  }
}
