import type { EcsDocument } from "@vigil/common";
import type { AlertingRule } from "../alerts/build-alert";
import type { RuleEvaluator } from "../hub-service";
import type { CompiledRule, Ruleset } from "../sigma";

/**
 * Adapts a compiled Sigma Ruleset to what the hub needs. The alert-facing
 * view of each rule is built once here, not per match. `version` is the
 * ruleset version the rules came from; alerts carry it as rule.version so an
 * analyst knows which version fired ("1" for the rules directory, which is
 * what version 1 of a KV ruleset is seeded from).
 */
export class SigmaRuleEvaluator implements RuleEvaluator {
  private readonly alerting = new Map<CompiledRule, AlertingRule>();

  constructor(
    private readonly ruleset: Ruleset,
    readonly version = "1",
  ) {
    for (const rule of ruleset.rules) {
      this.alerting.set(rule, {
        id: rule.id,
        name: rule.title,
        description: rule.description,
        level: rule.level,
        author: rule.author,
        references: rule.references,
        tags: rule.tags,
        version,
        techniques: rule.techniques,
        tactics: rule.tactics,
      });
    }
  }

  get size(): number {
    return this.ruleset.size;
  }

  evaluate(document: EcsDocument): AlertingRule[] {
    const matched = this.ruleset.match(document);
    if (matched.length === 0) return [];
    return matched.map((rule) => this.alerting.get(rule) as AlertingRule);
  }
}
