import { compileRuleSources, Ruleset, SigmaRuleEvaluator } from "@vigil/hub";

/**
 * Base and correlation rules from one YAML text (documents split by ---),
 * compiled and installed as a hub does; a rule that does not compile is a
 * mistake in the test, so it throws with every error.
 */
export function compileTestRules(text: string, source = "test-rules.yml", version = "1"): SigmaRuleEvaluator {
  const compiled = compileRuleSources([{ source, text }]);
  if (compiled.errors.length > 0) {
    throw new Error(`test rules do not compile: ${compiled.errors.map((error) => error.message).join("; ")}`);
  }
  return new SigmaRuleEvaluator(new Ruleset(compiled.rules), version, compiled.correlations);
}
