import type { EcsDocument, Logger } from "@vigil/common";
import {
  type CompiledRule,
  compileRules,
  type RulesetRule,
  type RulesetVersion,
  sha256Hex,
} from "@vigil/hub";
import type { AuditActor, AuditTrail } from "../audit/types";
import { RuleChangeRefused } from "./rule-change-refused";
import { describeProblems, type RuleProblem, validateRule } from "./rule-validation";
import type { RulesetMutation, RulesetStore, RulesetVersionSummary } from "./ruleset-store";

export interface RuleServiceOptions {
  store: RulesetStore;
  audit: AuditTrail;
  logger: Logger;
}

/** A rule as lists show it. */
export interface RuleSummary {
  id: string;
  title: string;
  level: string;
  status: string;
  category: string;
  enabled: boolean;
  sha256: string;
}

export interface RuleDetail extends RuleSummary {
  yaml: string;
  /** The ruleset version read. */
  rulesetVersion: number;
  /** Versions that changed this rule, newest first. */
  history: RulesetVersionSummary[];
}

export interface DryRunResult {
  valid: boolean;
  problems: RuleProblem[];
  rule?: { id: string; title: string; level: string; category: string };
  /** Indexes of the sample events the rule fires on. */
  matched: number[];
  results: { index: number; matched: boolean }[];
}

/** Versions scanned for a rule's history. */
const HISTORY_SCAN = 1000;
const HISTORY_KEEP = 100;

/** The operations of the rules API: validate with the hub's compiler, store a new version, record the change. */
export class RuleService {
  private readonly metadata = new Map<string, CompiledRule>();

  constructor(private readonly options: RuleServiceOptions) {}

  async list(): Promise<{ version: number; rules: RuleSummary[] }> {
    const current = await this.current();
    return { version: current.version, rules: current.rules.map((rule) => this.summarize(rule)) };
  }

  async get(id: string): Promise<RuleDetail> {
    const current = await this.current();
    const rule = current.rules.find((candidate) => candidate.id === id);
    if (!rule) throw new RuleChangeRefused(404, `no rule ${id} in ruleset version ${current.version}`);
    const history = (await this.options.store.versions(HISTORY_SCAN))
      .filter((summary) => summary.change.ruleId === id)
      .slice(0, HISTORY_KEEP);
    return { ...this.summarize(rule), yaml: rule.yaml, rulesetVersion: current.version, history };
  }

  async create(
    yaml: string,
    enabled: boolean,
    actor: AuditActor,
  ): Promise<{ version: number; rule: RuleSummary }> {
    const compiled = this.compile(yaml);
    const added: RulesetRule = { id: compiled.id, enabled, sha256: sha256Hex(yaml), yaml };
    const { after } = await this.apply(actor, "rule.create", compiled.id, (current) => {
      if (current.rules.some((rule) => rule.id === compiled.id)) {
        throw new RuleChangeRefused(
          409,
          `rule ${compiled.id} exists already (update it with PUT /api/v1/rules/${compiled.id})`,
        );
      }
      return [...current.rules, added];
    });
    await this.record(actor, "rule.create", compiled.id, undefined, {
      version: after.version,
      ...ruleState(added),
    });
    return { version: after.version, rule: this.summarize(added) };
  }

  async update(
    id: string,
    yaml: string,
    enabled: boolean | undefined,
    actor: AuditActor,
  ): Promise<{ version: number; rule: RuleSummary }> {
    const compiled = this.compile(yaml);
    if (compiled.id !== id) {
      throw new RuleChangeRefused(400, `id: the rule's id ${compiled.id} is not the ${id} being updated`, [
        { message: `id: ${compiled.id} does not match the rule being updated (${id})` },
      ]);
    }
    let previous: RulesetRule | undefined;
    let updated: RulesetRule | undefined;
    const { after } = await this.apply(actor, "rule.update", id, (current) => {
      previous = this.find(current, id);
      const next = { id, enabled: enabled ?? previous.enabled, sha256: sha256Hex(yaml), yaml };
      updated = next;
      return current.rules.map((rule) => (rule.id === id ? next : rule));
    });
    const rule = updated as RulesetRule;
    await this.record(actor, "rule.update", id, previous && ruleState(previous), {
      version: after.version,
      ...ruleState(rule),
    });
    return { version: after.version, rule: this.summarize(rule) };
  }

  async setEnabled(
    id: string,
    enabled: boolean,
    actor: AuditActor,
  ): Promise<{ version: number; rule: RuleSummary }> {
    const action = enabled ? "rule.enable" : "rule.disable";
    let changed: RulesetRule | undefined;
    const { before, after } = await this.apply(actor, action, id, (current) => {
      const next = { ...this.find(current, id), enabled };
      changed = next;
      return current.rules.map((rule) => (rule.id === id ? next : rule));
    });
    await this.record(
      actor,
      action,
      id,
      { version: before.version, enabled: !enabled },
      { version: after.version, enabled },
    );
    return { version: after.version, rule: this.summarize(changed as RulesetRule) };
  }

  async delete(id: string, actor: AuditActor): Promise<{ version: number }> {
    let removed: RulesetRule | undefined;
    const { after } = await this.apply(actor, "rule.delete", id, (current) => {
      removed = this.find(current, id);
      return current.rules.filter((rule) => rule.id !== id);
    });
    await this.record(actor, "rule.delete", id, removed && ruleState(removed), undefined);
    return { version: after.version };
  }

  /** Stores the rules of an earlier version as the newest version (history stays intact). */
  async rollback(version: number, actor: AuditActor): Promise<{ version: number; restoredVersion: number }> {
    const target = await this.options.store.version(version);
    if (!target) throw new RuleChangeRefused(404, `no ruleset version ${version}`);
    // The compiler may have grown stricter since: re-check before restoring.
    const compiled = compileRules(
      target.rules.map((rule) => ({ source: `rule ${rule.id}`, text: rule.yaml })),
    );
    if (compiled.errors.length > 0) {
      throw new RuleChangeRefused(
        400,
        `version ${version} does not compile any more: ${compiled.errors.map((error) => error.message).join("; ")}`,
      );
    }
    const { store } = this.options;
    const { before, after } = await store.apply(() => ({
      rules: target.rules,
      change: {
        action: "ruleset.rollback",
        restoredVersion: version,
        actor: { id: actor.id, name: actor.name },
      },
    }));
    await this.options.audit.record({
      actor,
      action: "ruleset.rollback",
      target: `ruleset/${version}`,
      before: { version: before.version },
      after: { version: after.version, restoredVersion: version },
    });
    return { version: after.version, restoredVersion: version };
  }

  /** Validates a rule and runs it over sample events; stores nothing. */
  dryRun(yaml: string, events: readonly EcsDocument[]): DryRunResult {
    const validation = validateRule(yaml);
    if (!validation.ok) return { valid: false, problems: validation.problems, matched: [], results: [] };
    const { rule } = validation;
    const results = events.map((event, index) => ({ index, matched: rule.matches(event) }));
    return {
      valid: true,
      problems: [],
      rule: { id: rule.id, title: rule.title, level: rule.level, category: rule.category },
      matched: results.filter((result) => result.matched).map((result) => result.index),
      results,
    };
  }

  versions(limit: number, before?: number): Promise<RulesetVersionSummary[]> {
    return this.options.store.versions(limit, before);
  }

  async version(version: number): Promise<RulesetVersion> {
    const found = await this.options.store.version(version);
    if (!found) throw new RuleChangeRefused(404, `no ruleset version ${version}`);
    return found;
  }

  async current(): Promise<RulesetVersion> {
    const current = await this.options.store.current();
    if (!current) throw new RuleChangeRefused(503, "no ruleset stored yet (the server seeds one at start)");
    return current;
  }

  private compile(yaml: string): CompiledRule {
    const validation = validateRule(yaml);
    if (!validation.ok) {
      throw new RuleChangeRefused(400, describeProblems(validation.problems), validation.problems);
    }
    this.remember(validation.rule, sha256Hex(yaml));
    return validation.rule;
  }

  private find(current: RulesetVersion, id: string): RulesetRule {
    const rule = current.rules.find((candidate) => candidate.id === id);
    if (!rule) throw new RuleChangeRefused(404, `no rule ${id} in ruleset version ${current.version}`);
    return rule;
  }

  private apply(
    actor: AuditActor,
    action: string,
    ruleId: string,
    next: (current: RulesetVersion) => RulesetRule[],
  ): Promise<{ before: RulesetVersion; after: RulesetVersion }> {
    const mutation: RulesetMutation = (current) => ({
      rules: next(current),
      change: { action, ruleId, actor: { id: actor.id, name: actor.name } },
    });
    return this.options.store.apply(mutation);
  }

  private async record(
    actor: AuditActor,
    action: string,
    ruleId: string,
    before: unknown,
    after: unknown,
  ): Promise<void> {
    try {
      await this.options.audit.record({ actor, action, target: `rule/${ruleId}`, before, after });
    } catch (error) {
      // The change is stored; say so loudly rather than pretend it was not made.
      this.options.logger.error(
        { err: error, action, ruleId },
        "rule change stored but not recorded in the audit trail",
      );
      throw error;
    }
  }

  private summarize(rule: RulesetRule): RuleSummary {
    const meta = this.metadataOf(rule);
    return {
      id: rule.id,
      title: meta?.title ?? "",
      level: meta?.level ?? "",
      status: meta?.status ?? "",
      category: meta?.category ?? "",
      enabled: rule.enabled,
      sha256: rule.sha256,
    };
  }

  /** Compiled once per rule body (bodies are immutable: keyed by their hash). */
  private metadataOf(rule: RulesetRule): CompiledRule | undefined {
    const cached = this.metadata.get(rule.sha256);
    if (cached) return cached;
    const validation = validateRule(rule.yaml);
    if (!validation.ok) return undefined;
    this.remember(validation.rule, rule.sha256);
    return validation.rule;
  }

  private remember(rule: CompiledRule, sha256: string): void {
    if (this.metadata.size >= 10_000) this.metadata.clear();
    this.metadata.set(sha256, rule);
  }
}

function ruleState(rule: RulesetRule): { enabled: boolean; sha256: string; yaml: string } {
  return { enabled: rule.enabled, sha256: rule.sha256, yaml: rule.yaml };
}
