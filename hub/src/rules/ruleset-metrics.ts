import { Gauge, type Registry } from "@vigil/common";
import type { LiveRuleEvaluator } from "./live-rule-evaluator";
import type { RulesetWatcher } from "./ruleset-watcher";

/** Lets an operator see every hub converge on the same ruleset version, and spot one that refused a version. */
export function registerRulesetMetrics(
  registry: Registry,
  evaluator: LiveRuleEvaluator,
  watcher: RulesetWatcher | undefined,
): void {
  new Gauge({
    name: "vigil_hub_ruleset_version",
    help: "KV ruleset version being evaluated (0: the rules directory)",
    registers: [registry],
    collect() {
      this.set(watcher?.version ?? 0);
    },
  });
  new Gauge({
    name: "vigil_hub_ruleset_rules",
    help: "Active rules in the ruleset being evaluated",
    registers: [registry],
    collect() {
      this.set(evaluator.size);
    },
  });
  new Gauge({
    name: "vigil_hub_ruleset_rejected_versions",
    help: "KV ruleset versions this hub could not compile (it kept the previous one)",
    registers: [registry],
    collect() {
      this.set(watcher?.rejectedVersions ?? 0);
    },
  });
}
