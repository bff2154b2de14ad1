import type { RuleProblem } from "./rule-validation";

/** A rules API request that cannot be applied as asked; `status` is the HTTP answer. */
export class RuleChangeRefused extends Error {
  constructor(
    readonly status: 400 | 404 | 409 | 503,
    message: string,
    /** For a rule that does not compile: what is wrong, where. */
    readonly problems?: RuleProblem[],
  ) {
    super(message);
    this.name = "RuleChangeRefused";
  }
}
