import type { RulesetRule } from "@vigil/hub";
import { commandLineRule } from "../../../test/fixtures/process-rule";
import { type RuleProblem, readRuleText } from "./rule-validation";
import { checkRuleset, correlationsUsing } from "./ruleset-check";

const GOOD_ID = "5a0d8d4e-6a43-4c2e-9a55-3f0f1c0d7b11";
const GOOD = commandLineRule("/etc/shadow", { id: GOOD_ID, title: "Shadow file in a command line" });

const BASE_ID = "6b1e9e5f-7b54-4d3f-8b66-4a1f2d1e8c21";
const CORR_ID = "6b1e9e5f-7b54-4d3f-8b66-4a1f2d1e8cc1";

function base(id = BASE_ID, name = "whoami_run"): string {
  return commandLineRule("whoami", { id, name, title: "whoami run", level: "low" });
}

function correlation(uses = "whoami_run", id = CORR_ID): string {
  return `title: whoami three times
id: ${id}
status: test
level: high
correlation:
  type: event_count
  rules:
    - ${uses}
  group-by:
    - host.name
  timespan: 5m
  condition:
    gte: 3
`;
}

function stored(yaml: string, enabled = true): RulesetRule {
  const reading = readRuleText(yaml);
  if (!reading.ok) throw new Error(`unreadable test rule: ${JSON.stringify(reading.problems)}`);
  return { id: reading.text.id, enabled, sha256: reading.text.id, yaml };
}

/** Problems of a text read on its own, else of it compiled as a one-rule ruleset. */
function problemsOf(yaml: string): RuleProblem[] {
  const reading = readRuleText(yaml);
  if (!reading.ok) return reading.problems;
  const { problems } = checkRuleset([stored(yaml)]);
  if (problems.length === 0) throw new Error("expected the rule to be refused");
  return problems;
}

describe("rule validation - one text", () => {
  it("rule validation - accepts a good rule; the ruleset compiles it as hubs do", () => {
    const check = checkRuleset([stored(GOOD)]);
    expect(check.problems).toEqual([]);
    const rule = check.rules.get(GOOD_ID)?.base;
    const exec = { event: { category: ["process"], type: ["start"], action: "exec" } };
    expect(rule?.matches({ ...exec, process: { command_line: "cat /etc/shadow" } })).toBe(true);
    expect(rule?.matches({ ...exec, process: { command_line: "cat /etc/hosts" } })).toBe(false);
  });

  it("rule validation - a YAML syntax error names its line and column", () => {
    const broken = GOOD.replace("  selection:\n", "  selection:\n   bad: [unclosed\n");
    const [problem] = problemsOf(broken);
    expect(problem.message).toMatch(/^invalid YAML: /);
    expect(problem.line).toBeGreaterThanOrEqual(12);
  });

  it("rule validation - an unknown modifier points at the line of its field key", () => {
    const [problem] = problemsOf(GOOD.replace("CommandLine|contains", "CommandLine|containz"));
    expect(problem).toMatchObject({ ruleId: GOOD_ID, line: 12, column: 5 });
    expect(problem.message).toContain("unknown modifier 'containz'");
    expect(problem.message).toContain("detection.selection");
  });

  it("rule validation - a bad logsource category points at the category line", () => {
    const [problem] = problemsOf(GOOD.replace("category: process_creation", "category: web_proxy"));
    expect(problem).toMatchObject({ line: 9 });
    expect(problem.message).toMatch(/^logsource\.category: /);
  });

  it("rule validation - a condition naming a missing selection points at the condition line", () => {
    const [problem] = problemsOf(GOOD.replace("condition: selection", "condition: selection and not filter"));
    expect(problem).toMatchObject({ line: 13 });
    expect(problem.message).toContain("unknown selection 'filter'");
  });

  it("rule validation - a field in the second map of a selection list points at that key", () => {
    const listed = GOOD.replace(
      "  selection:\n    CommandLine|contains: /etc/shadow\n",
      "  selection:\n    - Image|endswith: /cat\n    - CommandLine|bogus: x\n",
    );
    const [problem] = problemsOf(listed);
    expect(problem).toMatchObject({ line: 13, column: 7 });
  });

  it("rule validation - a missing required field is named without a line", () => {
    const [problem] = problemsOf(GOOD.replace("title: Shadow file in a command line\n", ""));
    expect(problem.message).toBe("title: missing");
    expect(problem.line).toBeUndefined();
    expect(problemsOf(GOOD.replace(`id: ${GOOD_ID}\n`, ""))).toEqual([{ message: "id: missing" }]);
  });

  it("rule validation - several base rules in one text and oversized bodies are refused", () => {
    expect(problemsOf(`${GOOD}---\n${base()}`)[0]).toMatchObject({ line: 15 });
    expect(problemsOf(`${GOOD}---\n${base()}`)[0].message).toMatch(/no correlation/);
    expect(problemsOf(`${GOOD}#${"x".repeat(256 * 1024)}\n`)[0].message).toMatch(
      /bytes; the limit is 262144/,
    );
  });
});

describe("rule validation - correlations among the ruleset", () => {
  it("rule validation - a correlation file (correlation plus its base rule) is one rule under the correlation's id", () => {
    const file = `${correlation()}---\n${base()}`;
    const reading = readRuleText(file);
    expect(reading).toEqual({ ok: true, text: { id: CORR_ID, kind: "correlation", contains: [BASE_ID] } });
    const check = checkRuleset([stored(file), stored(GOOD)]);
    expect(check.problems).toEqual([]);
    expect(check.rules.get(CORR_ID)?.correlation?.referenced.map((ref) => ref.id)).toEqual([BASE_ID]);
    expect(check.ownerOf.get(BASE_ID)).toBe(CORR_ID);
    expect(check.running.correlations).toHaveLength(1);
  });

  it("rule validation - a correlation file holding a rule its correlation does not use is refused at that document", () => {
    const before = `${correlation()}---\n${base()}---\n`;
    const [problem] = problemsOf(`${before}${GOOD}`);
    expect(problem.message).toContain(`rule ${GOOD_ID} is not one the correlation uses`);
    // The first line of the third document.
    expect(problem.line).toBe(before.split("\n").length);
    const two = problemsOf(`${correlation()}---\n${correlation("whoami_run", GOOD_ID)}`)[0];
    expect(two).toMatchObject({ line: 15, message: expect.stringContaining("found 2 correlations") });
  });

  it("rule validation - a correlation referring to an unknown rule is refused at the line that names it", () => {
    const check = checkRuleset([stored(base()), stored(correlation("whoami_typo"))]);
    expect(check.problems).toEqual([
      {
        ruleId: CORR_ID,
        line: 8,
        column: 7,
        message: expect.stringContaining("correlation.rules[0]: unknown rule 'whoami_typo'"),
      },
    ]);
  });

  it("rule validation - an enabled correlation using a disabled rule is refused; both disabled is a ruleset hubs install", () => {
    const check = checkRuleset([stored(base(), false), stored(correlation())]);
    expect(check.problems).toHaveLength(1);
    expect(check.problems[0]).toMatchObject({ ruleId: CORR_ID, line: 8 });
    expect(check.problems[0].message).toContain(`is in disabled rule ${BASE_ID}`);
    const off = checkRuleset([stored(base(), false), stored(correlation(), false), stored(GOOD)]);
    expect(off.problems).toEqual([]);
    expect(off.running.rules.map((rule) => rule.id)).toEqual([GOOD_ID]);
    expect(off.running.correlations).toEqual([]);
  });

  it("rule validation - a base rule's users: any correlation for a delete, enabled ones for a disable", () => {
    const on = checkRuleset([stored(base()), stored(correlation())]);
    expect(correlationsUsing(on, BASE_ID, true)).toEqual([
      expect.objectContaining({ ruleId: CORR_ID, line: 8, column: 7 }),
    ]);
    const off = checkRuleset([stored(base()), stored(correlation(), false)]);
    expect(correlationsUsing(off, BASE_ID, true)).toEqual([]);
    expect(correlationsUsing(off, BASE_ID, false)).toHaveLength(1);
    expect(correlationsUsing(on, CORR_ID, false)).toEqual([]);
  });

  it("rule validation - a duplicate id across rules points at the id line of the second", () => {
    const check = checkRuleset([stored(base()), stored(`${correlation()}---\n${base()}`)]);
    expect(check.problems[0]).toMatchObject({ ruleId: CORR_ID, line: 16 });
    expect(check.problems[0].message).toMatch(new RegExp(`^rule ${BASE_ID}: duplicate rule id`));
  });
});
