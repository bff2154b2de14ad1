// A rule is accepted only if the hub's own compiler accepts it; a refusal
// says what is wrong and on which line of the YAML.

import { isVigilError } from "@vigil/common";
import { type CompiledRule, compileRule, MAX_RULE_BYTES } from "@vigil/hub";
import { LineCounter, parseAllDocuments } from "yaml";
import { locateProblem } from "./problem-location";

export interface RuleProblem {
  /** 1-based; absent when the problem is something missing rather than something written. */
  line?: number;
  column?: number;
  message: string;
}

export type RuleValidation = { ok: true; rule: CompiledRule } | { ok: false; problems: RuleProblem[] };

/** YAML syntax problems reported at once; a rule author fixes them in order. */
const MAX_YAML_PROBLEMS = 10;

/** The source name compileRule is given; its messages start with `${SOURCE}: rule <id>: `. */
const SOURCE = "rule";
const COMPILER_PREFIX = /^rule: rule .*?: /;

/** Compiles one rule text with the hub's compiler; never throws for bad input. */
export function validateRule(yaml: string): RuleValidation {
  const bytes = Buffer.byteLength(yaml, "utf8");
  if (bytes > MAX_RULE_BYTES) {
    return { ok: false, problems: [{ message: `rule is ${bytes} bytes; the limit is ${MAX_RULE_BYTES}` }] };
  }
  const lineCounter = new LineCounter();
  const documents = parseAllDocuments(yaml, { lineCounter, uniqueKeys: true });
  const list = Array.isArray(documents) ? documents : [documents];
  const syntax: RuleProblem[] = [];
  for (const document of list) {
    for (const error of document.errors) {
      const position = error.linePos?.[0];
      syntax.push({
        line: position?.line,
        column: position?.col,
        message: `invalid YAML: ${error.message.split("\n")[0].replace(/ at line \d+, column \d+:?$/, "")}`,
      });
    }
  }
  if (syntax.length > 0) return { ok: false, problems: syntax.slice(0, MAX_YAML_PROBLEMS) };
  if (list.length > 1) {
    const second = list[1].range[0];
    return {
      ok: false,
      problems: [
        {
          ...positionAt(lineCounter, second),
          message: `expected one YAML document, found ${list.length} (send one rule per request)`,
        },
      ],
    };
  }
  try {
    return { ok: true, rule: compileRule(yaml, SOURCE) };
  } catch (error) {
    if (!isVigilError(error)) throw error;
    const message = error.message.replace(COMPILER_PREFIX, "");
    const document = list[0];
    const position = document ? locateProblem(document, lineCounter, message) : undefined;
    return { ok: false, problems: [{ line: position?.line, column: position?.column, message }] };
  }
}

function positionAt(lineCounter: LineCounter, offset: number): { line: number; column: number } {
  const { line, col } = lineCounter.linePos(offset);
  return { line, column: col };
}

/** "line 7: detection.selection: ..." for logs, CLI output and the 400's message. */
export function describeProblems(problems: readonly RuleProblem[]): string {
  return problems
    .map((problem) =>
      problem.line === undefined ? problem.message : `line ${problem.line}: ${problem.message}`,
    )
    .join("; ");
}
