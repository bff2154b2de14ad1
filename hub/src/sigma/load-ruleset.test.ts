import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ErrorCodes } from "@vigil/common";
import { loadRuleset } from "./load-ruleset";
import { ruleYaml } from "./test-helpers";

describe("load-ruleset - a directory with good and bad rules", () => {
  let dir: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "vigil-rules-"));
    mkdirSync(join(dir, "linux", "process_creation"), { recursive: true });
    mkdirSync(join(dir, "tests"));
    const good = (id: string) => ruleYaml({ s: { Image: "/usr/bin/nc" }, condition: "s" }, { id });
    writeFileSync(
      join(dir, "linux", "process_creation", "a.yml"),
      good("11111111-1111-4111-8111-111111111111"),
    );
    writeFileSync(
      join(dir, "linux", "process_creation", "b.yaml"),
      good("22222222-2222-4222-8222-222222222222"),
    );
    writeFileSync(
      join(dir, "linux", "process_creation", "c-dup.yml"),
      good("11111111-1111-4111-8111-111111111111"),
    );
    writeFileSync(join(dir, "linux", "bad-yaml.yml"), "title: [oops\n");
    writeFileSync(
      join(dir, "linux", "regex-backref.yml"),
      ruleYaml(
        { s: { "CommandLine|re": "(a+)\\1" }, condition: "s" },
        { id: "33333333-3333-4333-8333-333333333333" },
      ),
    );
    writeFileSync(join(dir, "linux", "notes.txt"), "not a rule");
    writeFileSync(join(dir, "tests", "a.yml"), "match: []\n");
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test("loads the good rules and reports each bad one without throwing", () => {
    const { rules, errors } = loadRuleset(dir);
    expect(rules.map((r) => r.id).sort()).toEqual([
      "11111111-1111-4111-8111-111111111111",
      "22222222-2222-4222-8222-222222222222",
    ]);
    expect(errors.every((e) => e.code === ErrorCodes.RULE_INVALID)).toBe(true);
    const messages = errors.map((e) => e.message).sort();
    expect(messages).toHaveLength(3);
    expect(messages[0]).toMatch(/bad-yaml\.yml: rule <no id>: invalid YAML/);
    expect(messages[1]).toMatch(
      /c-dup\.yml: rule 11111111-.*: duplicate rule id \(already defined in .*a\.yml\)/,
    );
    expect(messages[2]).toMatch(
      /regex-backref\.yml: rule 33333333-.*: detection\.s: 'CommandLine\|re': regular expression .* refused/,
    );
  });

  test("a missing directory is an error, not an exception", () => {
    const { rules, errors } = loadRuleset(join(dir, "nope"));
    expect(rules).toEqual([]);
    expect(errors[0].message).toMatch(/cannot read rule directory/);
  });
});
