import { validateRule } from "./rule-validation";

const GOOD = `title: Shadow file in a command line
id: 5a0d8d4e-6a43-4c2e-9a55-3f0f1c0d7b11
status: test
description: test rule
author: Vigil tests
level: high
logsource:
  product: linux
  category: process_creation
detection:
  selection:
    CommandLine|contains: /etc/shadow
  condition: selection
`;

function problemsOf(yaml: string) {
  const result = validateRule(yaml);
  if (result.ok) throw new Error("expected the rule to be refused");
  return result.problems;
}

describe("rule validation", () => {
  it("rule validation - accepts a good rule and returns it compiled", () => {
    const result = validateRule(GOOD);
    expect(result.ok).toBe(true);
    if (result.ok) {
      expect(result.rule.id).toBe("5a0d8d4e-6a43-4c2e-9a55-3f0f1c0d7b11");
      const exec = { event: { category: ["process"], type: ["start"], action: "exec" } };
      expect(result.rule.matches({ ...exec, process: { command_line: "cat /etc/shadow" } })).toBe(true);
      expect(result.rule.matches({ ...exec, process: { command_line: "cat /etc/hosts" } })).toBe(false);
    }
  });

  it("rule validation - a YAML syntax error names its line and column", () => {
    const broken = GOOD.replace("  selection:\n", "  selection:\n   bad: [unclosed\n");
    const [problem] = problemsOf(broken);
    expect(problem.message).toMatch(/^invalid YAML: /);
    expect(problem.line).toBeGreaterThanOrEqual(12);
  });

  it("rule validation - an unknown modifier points at the line of its field key", () => {
    const [problem] = problemsOf(GOOD.replace("CommandLine|contains", "CommandLine|containz"));
    expect(problem).toMatchObject({ line: 12, column: 5 });
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
  });

  it("rule validation - two documents and oversized bodies are refused", () => {
    expect(problemsOf(`${GOOD}---\n${GOOD}`)[0]).toMatchObject({ line: 14 });
    expect(problemsOf(`${GOOD}#${"x".repeat(256 * 1024)}\n`)[0].message).toMatch(
      /bytes; the limit is 262144/,
    );
  });
});
