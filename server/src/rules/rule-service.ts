import {
  createMemoryBus,
  type EcsDocument,
  type KvBucketSpec,
  type Logger,
  silentLogger,
} from "@vigil/common";
import {
  CORRELATION_BUCKET,
  type CorrelatedMatch,
  CorrelationEngine,
  Ruleset,
  type RulesetRule,
  type RulesetVersion,
  SigmaRuleEvaluator,
  sha256Hex,
} from "@vigil/hub";
import type { AuditActor, AuditTrail } from "../audit/types";
import { RuleChangeRefused } from "./rule-change-refused";
import { describeProblems, type RuleProblem, type RuleText, readRuleText } from "./rule-validation";
import { type CheckedRule, checkRuleset, correlationsUsing, type RulesetCheck } from "./ruleset-check";
import type { RulesetMutation, RulesetStore, RulesetVersionSummary } from "./ruleset-store";

export interface RuleServiceOptions {
  store: RulesetStore;
  audit: AuditTrail;
  logger: Logger;
}

/** A rule as lists show it. */
export interface RuleSummary {
  id: string;
  /** "rule" (a Sigma detection) or "correlation" (counts or orders other rules' matches). */
  kind: "rule" | "correlation";
  title: string;
  level: string;
  status: string;
  /** The logsource category; for a correlation, its type (event_count, value_count, temporal, temporal_ordered). */
  category: string;
  enabled: boolean;
  sha256: string;
  /** A correlation's rules (ids), in its order. */
  uses?: string[];
  /** Base rules a correlation file holds besides its correlation (ids). */
  contains?: string[];
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
  rule?: { id: string; kind: "rule" | "correlation"; title: string; level: string; category: string };
  /** Indexes of the sample events the rule fires on (a correlation: the events whose arrival fired it). */
  matched: number[];
  /** Per event; for a correlation also the rules it uses that the event matched. */
  results: { index: number; matched: boolean; rules?: string[] }[];
  /** A correlation's alerts: at which event, and the alert message (what was counted, for which group). */
  fires?: { index: number; message: string }[];
}

/** Versions scanned for a rule's history. */
const HISTORY_SCAN = 1000;
const HISTORY_KEEP = 100;
/** Compiled versions kept (versions never change; lists and reads of recent ones are common). */
const CHECKS_KEPT = 4;

let dryRunSerial = 0;

/**
 * The operations of the rules API: every change computes the next ruleset,
 * compiles the whole of it as hubs will (ruleset-check.ts) and stores it as a
 * new version only if it compiles; then records the change in the audit trail.
 */
export class RuleService {
  private readonly checks = new Map<number, RulesetCheck>();

  constructor(private readonly options: RuleServiceOptions) {}

  async list(): Promise<{ version: number; rules: RuleSummary[] }> {
    const current = await this.current();
    const check = this.checkOf(current);
    return { version: current.version, rules: current.rules.map((rule) => summarize(rule, check)) };
  }

  async get(id: string): Promise<RuleDetail> {
    const current = await this.current();
    const rule = this.find(current, id);
    const history = (await this.options.store.versions(HISTORY_SCAN))
      .filter((summary) => summary.change.ruleId === rule.id)
      .slice(0, HISTORY_KEEP);
    return {
      ...summarize(rule, this.checkOf(current)),
      yaml: rule.yaml,
      rulesetVersion: current.version,
      history,
    };
  }

  async create(
    yaml: string,
    enabled: boolean,
    actor: AuditActor,
  ): Promise<{ version: number; rule: RuleSummary }> {
    const text = this.read(yaml);
    const added: RulesetRule = { id: text.id, enabled, sha256: sha256Hex(yaml), yaml };
    const { after, check } = await this.apply(actor, "rule.create", text.id, (current) => {
      if (current.rules.some((rule) => rule.id === text.id)) {
        throw new RuleChangeRefused(
          409,
          `rule ${text.id} exists already (update it with PUT /api/v1/rules/${text.id})`,
        );
      }
      return [...current.rules, added];
    });
    await this.record(actor, "rule.create", text.id, undefined, {
      version: after.version,
      ...ruleState(added),
    });
    return { version: after.version, rule: summarize(added, check) };
  }

  async update(
    id: string,
    yaml: string,
    enabled: boolean | undefined,
    actor: AuditActor,
  ): Promise<{ version: number; rule: RuleSummary }> {
    const text = this.read(yaml);
    if (text.id !== id.toLowerCase()) {
      throw new RuleChangeRefused(400, `id: the rule's id ${text.id} is not the ${id} being updated`, [
        { message: `id: ${text.id} does not match the rule being updated (${id})` },
      ]);
    }
    let previous: RulesetRule | undefined;
    let updated: RulesetRule | undefined;
    const { after, check } = await this.apply(actor, "rule.update", text.id, (current) => {
      previous = this.find(current, text.id);
      const next = { id: text.id, enabled: enabled ?? previous.enabled, sha256: sha256Hex(yaml), yaml };
      updated = next;
      return current.rules.map((rule) => (rule.id === text.id ? next : rule));
    });
    const rule = updated as RulesetRule;
    await this.record(actor, "rule.update", text.id, previous && ruleState(previous), {
      version: after.version,
      ...ruleState(rule),
    });
    return { version: after.version, rule: summarize(rule, check) };
  }

  async setEnabled(
    id: string,
    enabled: boolean,
    actor: AuditActor,
  ): Promise<{ version: number; rule: RuleSummary }> {
    const action = enabled ? "rule.enable" : "rule.disable";
    let changed: RulesetRule | undefined;
    const { before, after, check } = await this.apply(actor, action, id, (current) => {
      const found = this.find(current, id);
      if (!enabled) this.refuseIfUsed(current, found.id, "disable");
      const next = { ...found, enabled };
      changed = next;
      return current.rules.map((rule) => (rule.id === found.id ? next : rule));
    });
    const rule = changed as RulesetRule;
    await this.record(
      actor,
      action,
      rule.id,
      { version: before.version, enabled: !enabled },
      { version: after.version, enabled },
    );
    return { version: after.version, rule: summarize(rule, check) };
  }

  async delete(id: string, actor: AuditActor): Promise<{ version: number }> {
    let removed: RulesetRule | undefined;
    const { after } = await this.apply(actor, "rule.delete", id, (current) => {
      const found = this.find(current, id);
      this.refuseIfUsed(current, found.id, "delete");
      removed = found;
      return current.rules.filter((rule) => rule.id !== found.id);
    });
    const rule = removed as RulesetRule;
    await this.record(actor, "rule.delete", rule.id, ruleState(rule), undefined);
    return { version: after.version };
  }

  /** Stores the rules of an earlier version as the newest version (history stays intact). */
  async rollback(version: number, actor: AuditActor): Promise<{ version: number; restoredVersion: number }> {
    const target = await this.options.store.version(version);
    if (!target) throw new RuleChangeRefused(404, `no ruleset version ${version}`);
    // The compiler may have grown stricter since: re-check before restoring, as the hubs will compile it.
    const check = checkRuleset(target.rules);
    if (check.problems.length > 0) {
      throw new RuleChangeRefused(
        400,
        `version ${version} does not compile any more: ${describeProblems(check.problems)}`,
        check.problems,
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
    this.keep(after.version, check);
    await this.options.audit.record({
      actor,
      action: "ruleset.rollback",
      target: `ruleset/${version}`,
      before: { version: before.version },
      after: { version: after.version, restoredVersion: version },
    });
    return { version: after.version, restoredVersion: version };
  }

  /**
   * Validates a rule as it would be stored (in place of the stored rule with
   * its id, or added) and runs it over sample events; stores nothing. A base
   * rule is matched event by event; a correlation's events go in order through
   * the correlation engine with its windows in a throwaway in-process bucket.
   */
  async dryRun(yaml: string, events: readonly EcsDocument[]): Promise<DryRunResult> {
    const reading = readRuleText(yaml);
    if (!reading.ok) return { valid: false, problems: reading.problems, matched: [], results: [] };
    const { text } = reading;
    const stored = (await this.options.store.current())?.rules ?? [];
    const candidate: RulesetRule = { id: text.id, enabled: true, sha256: sha256Hex(yaml), yaml };
    const rules = [...stored.filter((rule) => rule.id !== text.id), candidate];
    const check = checkRuleset(rules);
    if (check.problems.length > 0) {
      return { valid: false, problems: subjectFirst(check.problems, text.id), matched: [], results: [] };
    }
    const checked = check.rules.get(text.id) as CheckedRule;
    const summary = summarize(candidate, check);
    const rule = {
      id: summary.id,
      kind: summary.kind,
      title: summary.title,
      level: summary.level,
      category: summary.category,
    };
    if (checked.correlation === undefined) {
      const base = checked.base;
      const results = events.map((event, index) => ({ index, matched: base?.matches(event) ?? false }));
      const matched = results.filter((result) => result.matched).map((result) => result.index);
      return { valid: true, problems: [], rule, matched, results };
    }
    return {
      valid: true,
      problems: [],
      rule,
      ...(await runCorrelation(check, checked.correlation.id, events)),
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

  private read(yaml: string): RuleText {
    const reading = readRuleText(yaml);
    if (!reading.ok) {
      throw new RuleChangeRefused(400, describeProblems(reading.problems), reading.problems);
    }
    return reading.text;
  }

  private find(current: RulesetVersion, id: string): RulesetRule {
    const rule =
      current.rules.find((candidate) => candidate.id === id) ??
      current.rules.find((candidate) => candidate.id === id.toLowerCase());
    if (!rule) throw new RuleChangeRefused(404, `no rule ${id} in ruleset version ${current.version}`);
    return rule;
  }

  /** Refuses to take away a rule a correlation counts: the operator decides about the correlation first. */
  private refuseIfUsed(current: RulesetVersion, id: string, verb: "delete" | "disable"): void {
    const users = correlationsUsing(this.checkOf(current), id, verb === "disable");
    if (users.length === 0) return;
    const names = [...new Set(users.map((problem) => problem.ruleId))];
    const first = this.checkOf(current).rules.get(names[0] ?? "")?.correlation;
    throw new RuleChangeRefused(
      400,
      `rule ${id} is used by correlation ${names.join(", ")}${first ? ` (${first.title})` : ""}: ${verb} ${
        names.length > 1 ? "them" : "it"
      } first, or change ${names.length > 1 ? "them" : "it"} not to use ${id}`,
      users,
    );
  }

  /** Runs `next` on the current version, compiles the result as hubs will, and stores it only if it compiles. */
  private async apply(
    actor: AuditActor,
    action: string,
    ruleId: string,
    next: (current: RulesetVersion) => RulesetRule[],
  ): Promise<{ before: RulesetVersion; after: RulesetVersion; check: RulesetCheck }> {
    let check: RulesetCheck | undefined;
    const mutation: RulesetMutation = (current) => {
      const rules = next(current);
      check = checkRuleset(rules);
      if (check.problems.length > 0) {
        const problems = subjectFirst(check.problems, ruleId);
        throw new RuleChangeRefused(400, describeProblems(problems, ruleId), problems);
      }
      return { rules, change: { action, ruleId, actor: { id: actor.id, name: actor.name } } };
    };
    const { before, after } = await this.options.store.apply(mutation);
    const checked = check as RulesetCheck;
    this.keep(after.version, checked);
    return { before, after, check: checked };
  }

  private checkOf(version: RulesetVersion): RulesetCheck {
    const cached = this.checks.get(version.version);
    if (cached) return cached;
    const check = checkRuleset(version.rules);
    this.keep(version.version, check);
    return check;
  }

  private keep(version: number, check: RulesetCheck): void {
    this.checks.set(version, check);
    for (const old of this.checks.keys()) {
      if (this.checks.size <= CHECKS_KEPT) break;
      this.checks.delete(old);
    }
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
}

function summarize(rule: RulesetRule, check: RulesetCheck): RuleSummary {
  const checked = check.rules.get(rule.id);
  const base = checked?.base;
  const correlation = checked?.correlation;
  const contains = checked?.contains.map((inner) => inner.id) ?? [];
  return {
    id: rule.id,
    kind: correlation ? "correlation" : "rule",
    title: correlation?.title ?? base?.title ?? "",
    level: correlation?.level ?? base?.level ?? "",
    status: correlation?.status ?? base?.status ?? "",
    category: correlation?.type ?? base?.category ?? "",
    enabled: rule.enabled,
    sha256: rule.sha256,
    ...(correlation ? { uses: correlation.referenced.map((reference) => reference.id) } : {}),
    ...(contains.length > 0 ? { contains } : {}),
  };
}

/** The rule being changed's own problems first: they are what the author is fixing. */
function subjectFirst(problems: RuleProblem[], id: string): RuleProblem[] {
  return [
    ...problems.filter((problem) => problem.ruleId === id || problem.ruleId === undefined),
    ...problems.filter((problem) => problem.ruleId !== id && problem.ruleId !== undefined),
  ];
}

/** The rules a correlation needs to run: what it uses, down its chain of correlations. */
function closureOf(check: RulesetCheck, correlationId: string): RulesetCheck["running"] {
  const bases = new Map(check.running.rules.map((rule) => [rule.id, rule]));
  const correlations = new Map(check.running.correlations.map((rule) => [rule.id, rule]));
  const out: RulesetCheck["running"] = { rules: [], correlations: [] };
  const seen = new Set<string>();
  const visit = (id: string): void => {
    if (seen.has(id)) return;
    seen.add(id);
    const base = bases.get(id);
    if (base) out.rules.push(base);
    const correlation = correlations.get(id);
    if (correlation === undefined) return;
    out.correlations.push(correlation);
    for (const reference of correlation.referenced) visit(reference.id);
  };
  visit(correlationId);
  return out;
}

/** Feeds the events, in order, to the correlation engine; windows live in a throwaway in-process bucket. */
async function runCorrelation(
  check: RulesetCheck,
  correlationId: string,
  events: readonly EcsDocument[],
): Promise<Pick<DryRunResult, "matched" | "results" | "fires">> {
  const closure = closureOf(check, correlationId);
  const ruleset = new Ruleset(closure.rules);
  const evaluator = new SigmaRuleEvaluator(ruleset, "dry-run", closure.correlations);
  const silent = silentLogger();
  const bus = createMemoryBus({ logger: silent });
  try {
    const spec: KvBucketSpec = { ...CORRELATION_BUCKET, name: `vigil-dry-run-${++dryRunSerial}` };
    const engine = new CorrelationEngine({ kv: await bus.openKv(spec), logger: silent });
    const results: DryRunResult["results"] = [];
    const fires: NonNullable<DryRunResult["fires"]> = [];
    for (const [index, event] of events.entries()) {
      const correlated: CorrelatedMatch[] = [];
      evaluator.evaluate(event, correlated);
      const timestampMs = Date.parse(String(event["@timestamp"]));
      const alerts = await engine.process(correlated, new Date(Number.isNaN(timestampMs) ? 0 : timestampMs));
      const own = alerts.filter((alert) => alert.rule.id === correlationId);
      for (const alert of own) fires.push({ index, message: String(alert.document.message ?? "") });
      const rules = ruleset.match(event).map((matched) => matched.id);
      results.push({ index, matched: own.length > 0, rules });
    }
    const matched = results.filter((result) => result.matched).map((result) => result.index);
    return { matched, results, fires };
  } finally {
    await bus.close();
  }
}

function ruleState(rule: RulesetRule): { enabled: boolean; sha256: string; yaml: string } {
  return { enabled: rule.enabled, sha256: rule.sha256, yaml: rule.yaml };
}
