import type { EcsDocument } from "@vigil/common";
import type { AlertingRule } from "../alerts/build-alert";
import type { CorrelatedMatch } from "../correlation/types";
import type { RuleEvaluator } from "../hub-service";
import type { SigmaRuleEvaluator } from "./rule-evaluator";

/**
 * The evaluator the hub service holds for its whole life; a new ruleset
 * version is swapped in by replacing one reference. The hub evaluates a batch
 * synchronously, so a swap lands between batches and a batch never sees two
 * versions.
 */
export class LiveRuleEvaluator implements RuleEvaluator {
  constructor(private active: SigmaRuleEvaluator) {}

  get size(): number {
    return this.active.size;
  }

  /** The ruleset version being evaluated. */
  get version(): string {
    return this.active.version;
  }

  swap(next: SigmaRuleEvaluator): void {
    this.active = next;
  }

  evaluate(document: EcsDocument, correlated?: CorrelatedMatch[]): AlertingRule[] {
    return this.active.evaluate(document, correlated);
  }
}
