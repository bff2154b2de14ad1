import { createHash } from "node:crypto";
import { type EcsDocument, ecsDocumentOf } from "@vigil/common";
import type { AlertingRule } from "../alerts/build-alert";
import { CorrelationIndex } from "../correlation/correlation-index";
import type { CorrelatedMatch, CorrelationRule } from "../correlation/types";
import type { RuleEvaluator } from "../hub-service";
import type { CompiledRule, Ruleset } from "../sigma";

/**
 * Adapts a compiled Sigma Ruleset to what the hub needs. The alert-facing
 * view of each rule is built once here, not per match. `version` is the
 * ruleset version the rules came from; alerts carry it as rule.version so an
 * analyst knows which version fired ("1" for the rules directory, which is
 * what version 1 of a KV ruleset is seeded from). Correlation rules of the
 * same version come along: a match of a rule they refer to is handed to the
 * caller's collector, and such a rule alerts on its own only when a
 * correlation says `generate: true`.
 */
export class SigmaRuleEvaluator implements RuleEvaluator {
  private readonly alerting = new Map<CompiledRule, AlertingRule>();
  readonly correlations: CorrelationIndex;

  constructor(
    private readonly ruleset: Ruleset,
    readonly version = "1",
    correlations: readonly CorrelationRule[] = [],
  ) {
    this.correlations = new CorrelationIndex(correlations, version);
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
        // vigil.output and vigil.suppress: the alert stage applies them.
        output: rule.output,
        suppress: rule.suppress,
      });
    }
  }

  get size(): number {
    return this.ruleset.size;
  }

  evaluate(view: EcsDocument, correlated?: CorrelatedMatch[]): AlertingRule[] {
    const matched = this.ruleset.match(view);
    if (matched.length === 0) return [];
    if (this.correlations.size === 0) return matched.map((rule) => this.alerting.get(rule) as AlertingRule);
    const out: AlertingRule[] = [];
    for (const rule of matched) {
      if (correlated !== undefined && this.correlations.linksOf(rule.id) !== undefined) {
        // Correlation windows keep the document: a plain one, not the hub's lazy view.
        const document = ecsDocumentOf(view);
        const timestampMs = Date.parse(String(document["@timestamp"]));
        this.correlations.collect(
          rule.id,
          document,
          eventIdOf(document),
          Number.isNaN(timestampMs) ? Date.now() : timestampMs,
          correlated,
        );
      }
      if (!this.correlations.silences(rule.id)) out.push(this.alerting.get(rule) as AlertingRule);
    }
    return out;
  }
}

/** The event's id; an event without one (never sent by the server) is identified by its content. */
function eventIdOf(document: EcsDocument): string {
  const id = (document.event as EcsDocument | undefined)?.id;
  if (typeof id === "string" && id !== "") return id;
  return createHash("sha256").update(JSON.stringify(document)).digest("base64url").slice(0, 27);
}
