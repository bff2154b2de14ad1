import { ErrorCodes, VigilError } from "@vigil/common";

/**
 * Thrown inside the compiler and caught at the rule boundary, so one bad rule
 * is reported with its file and id and never stops the others from loading.
 */
export function ruleError(
  source: string,
  ruleId: string | undefined,
  what: string,
  cause?: unknown,
): VigilError {
  const id = ruleId === undefined || ruleId === "" ? "<no id>" : ruleId;
  return new VigilError(ErrorCodes.RULE_INVALID, `${source}: rule ${id}: ${what}`, { cause });
}

/** A compile-time problem without its rule context; compileRule adds file and id. */
export class RuleSyntaxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RuleSyntaxError";
  }
}
