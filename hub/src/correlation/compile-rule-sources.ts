// Compiles a ruleset's texts into base rules and correlation rules. A text
// may hold several YAML documents (the Sigma correlation specification puts a
// correlation and its base rules in one file): each document with a
// `correlation` section is a correlation rule, every other one a base rule
// compiled by the Sigma compiler. Correlations are then resolved against the
// whole set: the rules they refer to, their group-by fields and aliases.

import { ErrorCodes, isVigilError, VigilError } from "@vigil/common";
import YAML from "yaml";
import {
  type CompiledRule,
  compileRule,
  type LogsourceCategory,
  MAX_RULE_BYTES,
  resolveField,
} from "../sigma";
import {
  CorrelationSyntaxError,
  conditionBounds,
  isCorrelationDocument,
  parseCorrelation,
} from "./parse-correlation";
import type { CorrelationRule, ParsedCorrelation, ReferencedRule } from "./types";

export interface RuleSource {
  source: string;
  text: string;
}

export interface CompiledRuleSources {
  rules: CompiledRule[];
  correlations: CorrelationRule[];
  /** One VigilError (RULE_INVALID) per rejected document; the others still load. */
  errors: VigilError[];
}

/** Statuses Sigma marks as not meant to run (the Ruleset leaves such base rules out). */
const INACTIVE_STATUSES: ReadonlySet<string> = new Set(["deprecated", "unsupported"]);

function invalid(source: string, ruleId: string | undefined, what: string, cause?: unknown): VigilError {
  return new VigilError(ErrorCodes.RULE_INVALID, `${source}: rule ${ruleId || "<no id>"}: ${what}`, {
    cause,
  });
}

interface BaseEntry {
  rule: CompiledRule;
  name: string | undefined;
}

/**
 * Splits a text into its documents. Each base-rule document is handed to the
 * Sigma compiler as text of its own, preceded by as many blank lines as came
 * before it, so line numbers in its errors still point into the file.
 */
function splitDocuments(
  { source, text }: RuleSource,
  errors: VigilError[],
): Array<{ raw: unknown; text: string }> {
  if (text.length > MAX_RULE_BYTES * 4) {
    errors.push(invalid(source, undefined, `file larger than ${MAX_RULE_BYTES * 4} bytes`));
    return [];
  }
  const documents = YAML.parseAllDocuments(text, { uniqueKeys: true });
  const list = Array.isArray(documents) ? documents : [documents];
  if (list.length <= 1) return [{ raw: undefined, text }];
  const out: Array<{ raw: unknown; text: string }> = [];
  for (const document of list) {
    if (document.contents === null && document.errors.length === 0) continue;
    const [start, , end] = document.range;
    const linesBefore = text.slice(0, start).split("\n").length - 1;
    const own = `${"\n".repeat(linesBefore)}${text.slice(start, end)}`;
    if (document.errors.length > 0) {
      out.push({ raw: undefined, text: own });
      continue;
    }
    try {
      out.push({ raw: document.toJS({ maxAliasCount: 100 }), text: own });
    } catch {
      out.push({ raw: undefined, text: own });
    }
  }
  return out;
}

function peekName(raw: unknown): string | undefined {
  if (typeof raw !== "object" || raw === null) return undefined;
  const name = (raw as Record<string, unknown>).name;
  return typeof name === "string" && name !== "" ? name : undefined;
}

function parseSingle(text: string): unknown {
  try {
    const documents = YAML.parseAllDocuments(text, { uniqueKeys: true });
    const list = Array.isArray(documents) ? documents : [documents];
    return list.length === 1 && list[0].errors.length === 0
      ? list[0].toJS({ maxAliasCount: 100 })
      : undefined;
  } catch {
    return undefined;
  }
}

/** Compiles every document of every source; bad documents become errors, the rest load. */
export function compileRuleSources(sources: Iterable<RuleSource>): CompiledRuleSources {
  const errors: VigilError[] = [];
  const bases: BaseEntry[] = [];
  const parsed: ParsedCorrelation[] = [];
  const seenIds = new Map<string, string>();
  const seenNames = new Map<string, string>();
  const claim = (source: string, id: string, name: string | undefined): boolean => {
    const firstId = seenIds.get(id);
    if (firstId !== undefined) {
      errors.push(invalid(source, id, `duplicate rule id (already defined in ${firstId})`));
      return false;
    }
    const firstName = name === undefined ? undefined : seenNames.get(name);
    if (firstName !== undefined) {
      errors.push(invalid(source, id, `duplicate rule name '${name}' (already defined in ${firstName})`));
      return false;
    }
    seenIds.set(id, source);
    if (name !== undefined) seenNames.set(name, source);
    return true;
  };
  for (const ruleSource of sources) {
    const { source } = ruleSource;
    for (const document of splitDocuments(ruleSource, errors)) {
      const raw = document.raw ?? parseSingle(document.text);
      if (isCorrelationDocument(raw)) {
        const peekId = typeof raw.id === "string" ? raw.id : undefined;
        try {
          const correlation = parseCorrelation(raw, source);
          if (claim(source, correlation.id, correlation.name)) parsed.push(correlation);
        } catch (error) {
          errors.push(
            error instanceof CorrelationSyntaxError
              ? invalid(source, peekId, error.message)
              : invalid(source, peekId, `internal error while compiling: ${(error as Error).message}`, error),
          );
        }
        continue;
      }
      try {
        const rule = compileRule(document.text, source);
        const name = peekName(raw);
        if (claim(source, rule.id, name)) bases.push({ rule, name });
      } catch (error) {
        errors.push(isVigilError(error) ? error : invalid(source, undefined, String(error), error));
      }
    }
  }
  const correlations = resolveCorrelations(bases, parsed, errors);
  return { rules: bases.map((base) => base.rule), correlations, errors };
}

type Target = { kind: "base"; base: BaseEntry } | { kind: "correlation"; correlation: ParsedCorrelation };

function resolveCorrelations(
  bases: BaseEntry[],
  parsed: ParsedCorrelation[],
  errors: VigilError[],
): CorrelationRule[] {
  const targets = new Map<string, Target>();
  for (const base of bases) {
    targets.set(base.rule.id, { kind: "base", base });
    if (base.name !== undefined) targets.set(base.name, { kind: "base", base });
  }
  for (const correlation of parsed) {
    targets.set(correlation.id, { kind: "correlation", correlation });
    if (correlation.name !== undefined) targets.set(correlation.name, { kind: "correlation", correlation });
  }
  // Which correlations each correlation refers to, for the cycle check.
  const refersTo = new Map<string, string[]>();
  const resolved = new Map<string, CorrelationRule>();
  for (const correlation of parsed) {
    try {
      const rule = resolveOne(correlation, targets);
      resolved.set(rule.id, rule);
      refersTo.set(
        rule.id,
        rule.referenced.filter((ref) => ref.kind === "correlation").map((ref) => ref.id),
      );
    } catch (error) {
      if (!(error instanceof CorrelationSyntaxError)) throw error;
      errors.push(invalid(correlation.source, correlation.id, error.message));
    }
  }
  // A correlation whose chain reaches a refused or cyclic correlation is refused too.
  const verdict = new Map<string, "ok" | "bad" | "visiting">();
  const check = (id: string): boolean => {
    const state = verdict.get(id);
    if (state === "visiting") return false;
    if (state !== undefined) return state === "ok";
    if (!resolved.has(id)) return false;
    verdict.set(id, "visiting");
    const ok = (refersTo.get(id) ?? []).every(check);
    verdict.set(id, ok ? "ok" : "bad");
    return ok;
  };
  const out: CorrelationRule[] = [];
  for (const rule of resolved.values()) {
    if (check(rule.id)) {
      out.push(rule);
      continue;
    }
    const inner = (refersTo.get(rule.id) ?? []).join(", ");
    errors.push(
      invalid(
        rule.source,
        rule.id,
        `correlation.rules: the chain through ${inner} loops back or reaches a correlation that did not compile`,
      ),
    );
  }
  return out;
}

/** The base rules' categories a target's events come from. */
function categoriesOf(target: Target, targets: Map<string, Target>, depth = 0): LogsourceCategory[] {
  if (target.kind === "base") return [target.base.rule.category];
  if (depth > 16) return [];
  return target.correlation.rules.flatMap((reference) => {
    const inner = targets.get(reference);
    return inner === undefined ? [] : categoriesOf(inner, targets, depth + 1);
  });
}

function resolveOne(correlation: ParsedCorrelation, targets: Map<string, Target>): CorrelationRule {
  const referenced: ReferencedRule[] = [];
  const usedAliasKeys = new Set<string>();
  correlation.rules.forEach((reference, index) => {
    const target = targets.get(reference) ?? targets.get(reference.toLowerCase());
    if (target === undefined) {
      throw new CorrelationSyntaxError(
        `correlation.rules[${index}]: unknown rule '${reference}' (no rule in this ruleset has this id or name)`,
      );
    }
    const id = target.kind === "base" ? target.base.rule.id : target.correlation.id;
    const name = target.kind === "base" ? target.base.name : target.correlation.name;
    if (id === correlation.id)
      throw new CorrelationSyntaxError(`correlation.rules[${index}]: refers to itself`);
    const status = target.kind === "base" ? target.base.rule.status : target.correlation.status;
    if (INACTIVE_STATUSES.has(status)) {
      throw new CorrelationSyntaxError(
        `correlation.rules[${index}]: rule '${reference}' is ${status} and does not run`,
      );
    }
    const categories = categoriesOf(target, targets);
    const fieldPath = (field: string, where: string): string[] => {
      const alias = correlation.aliases[field];
      let actual = field;
      if (alias !== undefined) {
        const key = [reference, id, name].find((candidate) => candidate !== undefined && candidate in alias);
        if (key === undefined) {
          throw new CorrelationSyntaxError(
            `correlation.aliases.${field}: no field given for rule '${reference}'`,
          );
        }
        usedAliasKeys.add(`${field}\0${key}`);
        actual = alias[key];
      }
      for (const category of categories) {
        const resolution = resolveField(actual, category);
        if (!resolution.ok) {
          throw new CorrelationSyntaxError(
            `${where}: ${resolution.reason} (in the events of rule '${reference}')`,
          );
        }
      }
      const resolution = resolveField(actual, categories[0] ?? "process_creation");
      if (!resolution.ok) throw new CorrelationSyntaxError(`${where}: ${resolution.reason}`);
      return resolution.mapping.path.split(".");
    };
    referenced.push({
      id,
      kind: target.kind,
      groupPaths: correlation.groupBy.map((field, i) => fieldPath(field, `correlation.group-by[${i}]`)),
      valuePath:
        correlation.field === undefined
          ? undefined
          : fieldPath(correlation.field, "correlation.condition.field"),
    });
  });
  for (const [alias, perRule] of Object.entries(correlation.aliases)) {
    if (!correlation.groupBy.includes(alias) && correlation.field !== alias) {
      throw new CorrelationSyntaxError(`correlation.aliases.${alias}: not used in group-by`);
    }
    for (const key of Object.keys(perRule)) {
      if (!usedAliasKeys.has(`${alias}\0${key}`)) {
        throw new CorrelationSyntaxError(
          `correlation.aliases.${alias}.${key}: '${key}' is not one of the correlated rules`,
        );
      }
    }
  }
  const distinct = new Set(referenced.map((ref) => ref.id)).size;
  const { threshold, ceiling } =
    correlation.type === "temporal_ordered"
      ? { threshold: referenced.length, ceiling: referenced.length }
      : conditionBounds(correlation.condition, correlation.type, distinct);
  return { ...correlation, referenced, threshold, ceiling };
}
