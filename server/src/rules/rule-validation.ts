// What one rule text sent to the rules API (or found in the rules directory)
// is, before it is compiled with the rest of the ruleset: its YAML parses,
// and it maps onto the API's one-rule-per-id model. A text is one Sigma rule
// (a base rule or a correlation), or a Sigma correlation file: one
// correlation and the base rules it uses, stored together under the
// correlation's id. Compiling happens in ruleset-check.ts, on the whole
// ruleset at once, because a correlation is only valid among its rules.

import { MAX_RULE_BYTES } from "@vigil/hub";
import { type Document, LineCounter, parseAllDocuments } from "yaml";

export interface RuleProblem {
  /** The API id of the rule the problem is in (absent when the text has no id yet). */
  ruleId?: string;
  /** 1-based; absent when the problem is something missing rather than something written. */
  line?: number;
  column?: number;
  message: string;
}

/** A rule text that maps onto one API rule. */
export interface RuleText {
  /** What the API stores the text under: its rule's id, or its correlation's. */
  id: string;
  kind: "rule" | "correlation";
  /** Ids of the base rules a correlation file holds besides its correlation. */
  contains: string[];
}

export type RuleTextReading = { ok: true; text: RuleText } | { ok: false; problems: RuleProblem[] };

/** A text parsed with line positions: what problem locations are computed from. */
export interface ParsedRuleText {
  documents: Document[];
  lineCounter: LineCounter;
}

/** YAML syntax problems reported at once; a rule author fixes them in order. */
const MAX_YAML_PROBLEMS = 10;

/** Parses a rule text's YAML documents (empty ones left out) with line positions. */
export function parseRuleText(yaml: string): ParsedRuleText {
  const lineCounter = new LineCounter();
  const parsed = parseAllDocuments(yaml, { lineCounter, uniqueKeys: true });
  const list = Array.isArray(parsed) ? parsed : [parsed];
  const documents = list.filter((document) => document.contents !== null || document.errors.length > 0);
  return { documents, lineCounter };
}

function positionAt(lineCounter: LineCounter, offset: number): { line: number; column: number } {
  const { line, col } = lineCounter.linePos(offset);
  return { line, column: col };
}

function plain(document: Document): Record<string, unknown> | undefined {
  try {
    const value = document.toJS({ maxAliasCount: 100 }) as unknown;
    return typeof value === "object" && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

function isCorrelation(raw: Record<string, unknown> | undefined): boolean {
  return raw !== undefined && raw.correlation !== undefined;
}

/** The compiler lower-cases ids (they are UUIDs); the API id must be the one the compiler uses. */
function idOf(raw: Record<string, unknown> | undefined): string | undefined {
  const id = raw?.id;
  return typeof id === "string" && id.trim() !== "" ? id.trim().toLowerCase() : undefined;
}

/** Reads a rule text into what the API stores it as; never throws for bad input. */
export function readRuleText(yaml: string): RuleTextReading {
  const bytes = Buffer.byteLength(yaml, "utf8");
  if (bytes > MAX_RULE_BYTES) {
    return { ok: false, problems: [{ message: `rule is ${bytes} bytes; the limit is ${MAX_RULE_BYTES}` }] };
  }
  const { documents, lineCounter } = parseRuleText(yaml);
  const syntax: RuleProblem[] = [];
  for (const document of documents) {
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
  if (documents.length === 0) return { ok: false, problems: [{ message: "no rule: the text is empty" }] };
  const raws = documents.map(plain);
  // A document's first key, not the "---" before it.
  const startOf = (index: number) => {
    const document = documents[index];
    return positionAt(lineCounter, document?.contents?.range?.[0] ?? document?.range?.[0] ?? 0);
  };
  const correlations = raws.flatMap((raw, index) => (isCorrelation(raw) ? [index] : []));
  if (documents.length > 1 && correlations.length !== 1) {
    const at = correlations.length === 0 ? 1 : correlations[1];
    return {
      ok: false,
      problems: [
        {
          ...startOf(at),
          message:
            correlations.length === 0
              ? `found ${documents.length} YAML documents and no correlation: a text with several documents holds one correlation and the base rules it uses (send other rules one per request)`
              : `found ${correlations.length} correlations: a text holds at most one (send each correlation as a rule of its own)`,
        },
      ],
    };
  }
  const main = documents.length === 1 ? 0 : (correlations[0] ?? 0);
  const id = idOf(raws[main]);
  if (id === undefined) {
    // A correlation file's missing id is pointed at by its correlation document.
    const where = documents.length > 1 ? startOf(main) : {};
    return { ok: false, problems: [{ ...where, message: "id: missing" }] };
  }
  const kind = correlations.length === 1 ? "correlation" : "rule";
  const contains: string[] = [];
  if (documents.length > 1) {
    const correlation = raws[main]?.correlation as { rules?: unknown } | undefined;
    const uses = new Set(
      (Array.isArray(correlation?.rules) ? correlation.rules : []).map((ref) => String(ref).toLowerCase()),
    );
    for (const [index, raw] of raws.entries()) {
      if (index === main) continue;
      const baseId = idOf(raw);
      const name = typeof raw?.name === "string" ? raw.name.toLowerCase() : undefined;
      if (baseId === undefined || !(uses.has(baseId) || (name !== undefined && uses.has(name)))) {
        return {
          ok: false,
          problems: [
            {
              ruleId: id,
              ...startOf(index),
              message: `rule ${baseId ?? "<no id>"} is not one the correlation uses: a correlation file holds the correlation and its own base rules only (send other rules one per request)`,
            },
          ],
        };
      }
      contains.push(baseId);
    }
  }
  return { ok: true, text: { id, kind, contains } };
}

/** "line 7: detection.selection: ..." for logs, CLI output and the 400's message; another rule's problem names it. */
export function describeProblems(problems: readonly RuleProblem[], subject?: string): string {
  return problems
    .map((problem) => {
      const other = problem.ruleId !== undefined && problem.ruleId !== subject;
      const where = [
        other ? `rule ${problem.ruleId}` : "",
        problem.line === undefined ? "" : `line ${problem.line}`,
      ]
        .filter((part) => part !== "")
        .join(", ");
      return where === "" ? problem.message : `${where}: ${problem.message}`;
    })
    .join("; ");
}
