// A rule's test file (rules/tests/<rule-file>.yml): events that must and must
// not fire it. A base rule lists single events (match / no_match); a
// correlation rule lists sequences of events (fires / no_fire), fed in order.

import YAML from "yaml";
import type { EcsDocument } from "../sigma";

export type CaseExpectation = "match" | "no_match" | "fires" | "no_fire";

export interface RuleTestCase {
  name: string;
  expect: CaseExpectation;
  /** One event for match / no_match; the sequence for fires / no_fire. */
  events: EcsDocument[];
  /** match only: other rule ids the event is expected to fire as well. */
  alsoFires: string[];
}

export interface RuleTestFile {
  /** Id of the rule under test. */
  rule: string;
  cases: RuleTestCase[];
  /** What is wrong with the file itself; a file with problems has no cases to trust. */
  problems: string[];
}

/** Test files are small; a larger one is a mistake (or not a test file). */
export const MAX_TEST_FILE_BYTES = 4 * 1024 * 1024;

function isDocument(value: unknown): value is EcsDocument {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function readCases(section: unknown, expect: CaseExpectation, problems: string[], out: RuleTestCase[]): void {
  if (section === undefined || section === null) return;
  if (!Array.isArray(section)) {
    problems.push(`'${expect}' must be a list of cases`);
    return;
  }
  section.forEach((entry: unknown, index) => {
    const where = `${expect}[${index}]`;
    if (!isDocument(entry)) {
      problems.push(
        `${where}: a case must be a map with name and ${expect.startsWith("match") || expect === "no_match" ? "event" : "events"}`,
      );
      return;
    }
    const name = typeof entry.name === "string" && entry.name !== "" ? entry.name : where;
    const sequence = expect === "fires" || expect === "no_fire";
    const events = sequence ? entry.events : [entry.event];
    if (!Array.isArray(events) || events.length === 0 || !events.every(isDocument)) {
      problems.push(
        `${where} (${name}): '${sequence ? "events" : "event"}' must be ${sequence ? "a non-empty list of event documents" : "an event document"}`,
      );
      return;
    }
    const also = entry.also_fires ?? [];
    if (!Array.isArray(also) || !also.every((id) => typeof id === "string")) {
      problems.push(`${where} (${name}): 'also_fires' must be a list of rule ids`);
      return;
    }
    out.push({ name, expect, events, alsoFires: also });
  });
}

/** Parses a test file's text; never throws (problems are reported in the result). */
export function parseRuleTestFile(text: string): RuleTestFile {
  if (Buffer.byteLength(text, "utf8") > MAX_TEST_FILE_BYTES) {
    return { rule: "", cases: [], problems: [`larger than ${MAX_TEST_FILE_BYTES} bytes`] };
  }
  let parsed: unknown;
  try {
    // x-* keys hold anchors; merge keys (<<: *anchor) keep events short.
    parsed = YAML.parse(text, { merge: true, maxAliasCount: 10_000 });
  } catch (error) {
    return { rule: "", cases: [], problems: [`invalid YAML: ${(error as Error).message.split("\n")[0]}`] };
  }
  if (!isDocument(parsed)) return { rule: "", cases: [], problems: ["not a map with rule and cases"] };
  const problems: string[] = [];
  const rule = typeof parsed.rule === "string" ? parsed.rule : "";
  if (rule === "") problems.push("'rule' (the id of the rule under test) is missing");
  const cases: RuleTestCase[] = [];
  readCases(parsed.match, "match", problems, cases);
  readCases(parsed.no_match, "no_match", problems, cases);
  readCases(parsed.fires, "fires", problems, cases);
  readCases(parsed.no_fire, "no_fire", problems, cases);
  return { rule, cases, problems };
}
