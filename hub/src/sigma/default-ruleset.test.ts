// The shipped ruleset under rules/: every rule loads, every rule has test
// events, match events fire exactly the rules they declare and no_match
// events do not fire their rule. Test events must have the server's ECS shape.

import { readdirSync, readFileSync } from "node:fs";
import { basename, join } from "node:path";
import YAML from "yaml";
import { listRuleFiles, loadRuleset } from "./load-ruleset";
import { Ruleset } from "./ruleset";
import type { CompiledRule, EcsDocument } from "./types";

const RULES_DIR = join(__dirname, "..", "..", "..", "rules");
const TESTS_DIR = join(RULES_DIR, "tests");

interface TestCase {
  name: string;
  /** Other rule ids this event is expected to fire besides the rule under test. */
  also_fires?: string[];
  event: EcsDocument;
}

interface RuleTests {
  rule: string;
  match: TestCase[];
  no_match: TestCase[];
}

const loaded = loadRuleset(RULES_DIR);
const ruleset = new Ruleset(loaded.rules);
const ruleByFile = new Map(loaded.rules.map((rule) => [basename(rule.source, ".yml"), rule]));

/** Parsed test file; a malformed one yields empty lists and fails its own "is well-formed" test. */
function readTests(file: string): RuleTests & { error?: string } {
  try {
    const parsed = YAML.parse(readFileSync(join(TESTS_DIR, file), "utf8"), {
      merge: true,
    }) as Partial<RuleTests>;
    return { rule: String(parsed?.rule), match: parsed?.match ?? [], no_match: parsed?.no_match ?? [] };
  } catch (error) {
    return { rule: "", match: [], no_match: [], error: (error as Error).message };
  }
}

const testFiles = readdirSync(TESTS_DIR).filter((f) => f.endsWith(".yml"));

function expectEcsShape(doc: EcsDocument, where: string): void {
  const event = doc.event as Record<string, unknown> | undefined;
  const problems: string[] = [];
  if (typeof doc["@timestamp"] !== "string" || Number.isNaN(Date.parse(doc["@timestamp"] as string))) {
    problems.push("@timestamp must be an ISO string");
  }
  if (event === undefined) problems.push("event missing");
  else {
    if (event.kind !== "event") problems.push("event.kind must be 'event'");
    if (event.module !== "vigil") problems.push("event.module must be 'vigil'");
    if (!Array.isArray(event.category) || !Array.isArray(event.type))
      problems.push("event.category/type must be lists");
    if (typeof event.action !== "string") problems.push("event.action missing");
  }
  if (typeof (doc.host as Record<string, unknown> | undefined)?.name !== "string")
    problems.push("host.name missing");
  if ((doc.agent as Record<string, unknown> | undefined)?.type !== "vigil-agent")
    problems.push("agent.type must be vigil-agent");
  const process = doc.process as Record<string, unknown> | undefined;
  if (process !== undefined) {
    if (process.pid !== undefined && typeof process.pid !== "number")
      problems.push("process.pid must be a number");
    if (Array.isArray(process.args) && typeof process.command_line === "string") {
      if ((process.args as string[]).join(" ") !== process.command_line)
        problems.push("command_line must be args joined");
    }
  }
  const port = (doc.destination as Record<string, unknown> | undefined)?.port;
  if (port !== undefined && typeof port !== "number") problems.push("destination.port must be a number");
  expect({ where, problems }).toEqual({ where, problems: [] });
}

describe("default ruleset - loading", () => {
  test("every rule file loads without errors", () => {
    expect(loaded.errors.map((e) => e.message)).toEqual([]);
    expect(loaded.rules.length).toBe(listRuleFiles(RULES_DIR).length);
    expect(loaded.rules.length).toBeGreaterThanOrEqual(12);
  });

  test("every rule has a test file with at least two match and two no_match events", () => {
    for (const rule of loaded.rules) {
      const file = `${basename(rule.source, ".yml")}.yml`;
      expect({ rule: rule.source, hasTests: testFiles.includes(file) }).toEqual({
        rule: rule.source,
        hasTests: true,
      });
      const tests = readTests(file);
      expect(tests.rule).toBe(rule.id);
      expect(tests.match.length).toBeGreaterThanOrEqual(2);
      expect(tests.no_match.length).toBeGreaterThanOrEqual(2);
    }
  });

  test("every test file belongs to a rule", () => {
    expect(testFiles.filter((f) => !ruleByFile.has(basename(f, ".yml")))).toEqual([]);
  });

  test("every rule maps to ATT&CK and says what can go wrong", () => {
    for (const rule of loaded.rules) {
      expect({ id: rule.id, techniques: rule.techniques.length > 0 }).toEqual({
        id: rule.id,
        techniques: true,
      });
      expect({ id: rule.id, tactics: rule.tactics.length > 0 }).toEqual({ id: rule.id, tactics: true });
      expect({ id: rule.id, falsepositives: rule.falsepositives.length > 0 }).toEqual({
        id: rule.id,
        falsepositives: true,
      });
      expect(rule.description.length).toBeGreaterThan(0);
    }
  });
});

describe.each(testFiles)("default ruleset - %s", (file) => {
  const tests = readTests(file);
  const rule = ruleByFile.get(basename(file, ".yml")) as CompiledRule;

  test("is well-formed YAML", () => {
    expect(tests.error).toBeUndefined();
  });

  test.each(tests.match.map((c) => [c.name, c] as const))("fires on: %s", (name, testCase) => {
    expectEcsShape(testCase.event, `${file}: ${name}`);
    const fired = ruleset.match(testCase.event).map((r) => r.id);
    const expected = [rule.id, ...(testCase.also_fires ?? [])];
    expect(fired.sort()).toEqual(expected.sort());
    expect(rule.matches(testCase.event)).toBe(true);
  });

  test.each(tests.no_match.map((c) => [c.name, c] as const))("stays quiet on: %s", (name, testCase) => {
    expectEcsShape(testCase.event, `${file}: ${name}`);
    expect(rule.matches(testCase.event)).toBe(false);
    expect(ruleset.match(testCase.event).map((r) => r.id)).not.toContain(rule.id);
  });
});
