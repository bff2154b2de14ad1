// A ruleset is accepted only if hubs will install it: its enabled rules,
// compiled together with the hub's compileRuleSources, load without a single
// error (a hub refuses a whole version for one bad rule). Disabled rules are
// compiled too, with everything else, so a stored rule stays one that can be
// enabled again: a correlation cannot be left referring to a deleted rule.
// Problems are reported per API rule, with the line and column in its text.

import {
  type CompiledRule,
  type CompiledRuleSources,
  type CorrelationRule,
  compileRuleSources,
  type RulesetRule,
} from "@vigil/hub";
import { locateProblem } from "./problem-location";
import { parseRuleText, type RuleProblem } from "./rule-validation";

export interface CheckedRule {
  stored: RulesetRule;
  /** What the API id names, when it compiled: a base rule or a correlation. */
  base?: CompiledRule;
  correlation?: CorrelationRule;
  /** Base rules a correlation file holds besides its correlation. */
  contains: CompiledRule[];
}

export interface RulesetCheck {
  /** Empty when hubs will install the ruleset. */
  problems: RuleProblem[];
  /** Every stored rule, enabled or not, by API id. */
  rules: Map<string, CheckedRule>;
  /** What hubs run: the base rules and correlations of the enabled rules. */
  running: Pick<CompiledRuleSources, "rules" | "correlations">;
  /** The API id of the rule each compiled document (base rule or correlation) is in. */
  ownerOf: Map<string, string>;
}

/** "<api id>: rule <document id>: <what>" (the compiler's message, each rule compiled under its API id). */
const COMPILER_MESSAGE = /^rule (.*?): ([\s\S]*)$/;

function documentId(value: unknown): string | undefined {
  const id = (value as { id?: unknown } | null)?.id;
  return typeof id === "string" ? id.trim().toLowerCase() : undefined;
}

/** Where `what` points in the document `docId` of a rule text (the only document when there is one). */
export function locateInRule(yaml: string, docId: string, what: string): { line?: number; column?: number } {
  const { documents, lineCounter } = parseRuleText(yaml);
  const document =
    documents.find((candidate) => documentId(candidate.toJS({ maxAliasCount: 100 })) === docId) ??
    (documents.length === 1 ? documents[0] : undefined);
  if (document === undefined) return {};
  // Duplicate ids and names are about the key that holds them.
  const target = what.replace(/^duplicate rule (id|name)\b/, "$1: duplicate");
  const position = locateProblem(document, lineCounter, target);
  return position === undefined ? {} : { line: position.line, column: position.column };
}

function problemOf(message: string, byId: ReadonlyMap<string, RulesetRule>): RuleProblem {
  const separator = message.indexOf(": ");
  // Ids are UUIDs, so the first ": " ends the API id; a longer match is tried for anything else.
  let owner = separator < 0 ? undefined : byId.get(message.slice(0, separator));
  if (owner === undefined) {
    for (const rule of byId.values()) if (message.startsWith(`${rule.id}: `)) owner = rule;
  }
  if (owner === undefined) return { message };
  const rest = message.slice(owner.id.length + 2);
  const parts = COMPILER_MESSAGE.exec(rest);
  if (parts === null) return { ruleId: owner.id, message: rest };
  const [, docId, what] = parts;
  const embedded = docId !== owner.id && docId !== "<no id>";
  return {
    ruleId: owner.id,
    ...locateInRule(owner.yaml, docId, what),
    message: embedded ? `rule ${docId}: ${what}` : what,
  };
}

function compile(rules: readonly RulesetRule[]): CompiledRuleSources {
  return compileRuleSources(rules.map((rule) => ({ source: rule.id, text: rule.yaml })));
}

/** Compiles a ruleset as hubs will; never throws for a bad rule. */
export function checkRuleset(stored: readonly RulesetRule[]): RulesetCheck {
  const byId = new Map(stored.map((rule) => [rule.id, rule]));
  const all = compile(stored);
  const problems = all.errors.map((error) => problemOf(error.message, byId));

  const rules = new Map<string, CheckedRule>(stored.map((rule) => [rule.id, { stored: rule, contains: [] }]));
  const ownerOf = new Map<string, string>();
  for (const rule of all.rules) {
    ownerOf.set(rule.id, rule.source);
    const checked = rules.get(rule.source);
    if (checked === undefined) continue;
    if (rule.id === checked.stored.id) checked.base = rule;
    else checked.contains.push(rule);
  }
  for (const correlation of all.correlations) {
    ownerOf.set(correlation.id, correlation.source);
    const checked = rules.get(correlation.source);
    if (checked !== undefined && correlation.id === checked.stored.id) checked.correlation = correlation;
  }

  // A running correlation needs what it counts running: the hub compiles enabled rules only.
  for (const correlation of all.correlations) {
    const owner = byId.get(correlation.source);
    if (!owner?.enabled) continue;
    correlation.referenced.forEach((reference, index) => {
      const holder = byId.get(ownerOf.get(reference.id) ?? "");
      if (holder === undefined || holder.enabled) return;
      const what = `correlation.rules[${index}]: rule '${correlation.rules[index]}' is in disabled rule ${holder.id}; a correlation runs only with the rules it uses enabled`;
      problems.push({ ruleId: owner.id, ...locateInRule(owner.yaml, correlation.id, what), message: what });
    });
  }

  const enabled = stored.filter((rule) => rule.enabled);
  let running: RulesetCheck["running"] = {
    rules: all.rules.filter((rule) => byId.get(rule.source)?.enabled),
    correlations: all.correlations.filter((rule) => byId.get(rule.source)?.enabled),
  };
  if (enabled.length < stored.length) {
    // Exactly what a hub installs; its errors are new only for rules not reported on yet.
    const hub = compile(enabled);
    running = hub;
    const reported = new Set(problems.map((problem) => problem.ruleId));
    for (const error of hub.errors) {
      const problem = problemOf(error.message, byId);
      if (!reported.has(problem.ruleId)) problems.push(problem);
    }
  }
  return { problems, rules, running, ownerOf };
}

/**
 * The correlations that use rule `id` (or a base rule its text holds), each
 * as a problem at the line that names it. Deleting a rule is refused while
 * any correlation uses it; disabling it while an enabled one does.
 */
export function correlationsUsing(check: RulesetCheck, id: string, enabledOnly: boolean): RuleProblem[] {
  const subject = check.rules.get(id);
  if (subject === undefined) return [];
  const documents = new Set([id, ...subject.contains.map((rule) => rule.id)]);
  const problems: RuleProblem[] = [];
  for (const user of check.rules.values()) {
    const { correlation, stored } = user;
    if (correlation === undefined || stored.id === id || (enabledOnly && !stored.enabled)) continue;
    correlation.referenced.forEach((reference, index) => {
      if (!documents.has(reference.id)) return;
      const what = `correlation.rules[${index}]: '${correlation.title}' uses rule ${reference.id}`;
      problems.push({ ruleId: stored.id, ...locateInRule(stored.yaml, correlation.id, what), message: what });
    });
  }
  return problems;
}
