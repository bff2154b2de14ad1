import { readdirSync, readFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import YAML from "yaml";
import { attackFromTags, TACTICS, TECHNIQUE_NAMES } from "./attack";

const RULES_DIR = resolve(__dirname, "../../../rules/linux");

function ruleFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return ruleFiles(path);
    return /\.ya?ml$/.test(entry.name) ? [path] : [];
  });
}

/** Every `attack.*` tag of every rule document (a correlation file holds several), with where it is. */
function attackTags(): Array<{ file: string; tag: string }> {
  const found: Array<{ file: string; tag: string }> = [];
  for (const path of ruleFiles(RULES_DIR)) {
    for (const document of YAML.parseAllDocuments(readFileSync(path, "utf8"))) {
      const tags = (document.toJS() as { tags?: unknown } | null)?.tags;
      if (!Array.isArray(tags)) continue;
      for (const tag of tags) {
        if (typeof tag === "string" && tag.toLowerCase().startsWith("attack.")) {
          found.push({ file: relative(RULES_DIR, path), tag });
        }
      }
    }
  }
  return found;
}

describe("attack - names", () => {
  test("attack - every ATT&CK tag in rules/linux resolves to a technique or tactic name", () => {
    const tags = attackTags();
    // The walk found the ruleset (a wrong path would make this test pass on nothing).
    expect(tags.length).toBeGreaterThan(100);
    const unnamed: string[] = [];
    for (const { file, tag } of tags) {
      const { techniques, tactics } = attackFromTags([tag]);
      const named = techniques.length === 1 ? techniques[0]?.name !== undefined : tactics.length === 1;
      if (!named) unnamed.push(`${file}: ${tag}`);
    }
    expect(unnamed).toEqual([]);
  });

  test("attack - a sub-technique's name starts with its technique's name", () => {
    const wrong = Object.entries(TECHNIQUE_NAMES)
      .filter(([id]) => id.includes("."))
      .filter(([id, name]) => {
        const parent = TECHNIQUE_NAMES[id.slice(0, id.indexOf("."))];
        return parent !== undefined && !name.startsWith(`${parent}: `);
      })
      .map(([id, name]) => `${id}: ${name}`);
    expect(wrong).toEqual([]);
  });

  test("attack - tags map to ids and names in the order written; unknown ids load without a name", () => {
    expect(
      attackFromTags([
        "attack.privilege_escalation",
        "attack.T1548.001",
        "attack.t1548.001",
        "attack.t9999",
        "cve.2021-4034",
      ]),
    ).toEqual({
      techniques: [
        { id: "T1548.001", name: "Abuse Elevation Control Mechanism: Setuid and Setgid" },
        { id: "T9999", name: undefined },
      ],
      tactics: [{ id: "TA0004", name: "Privilege Escalation", tag: "privilege_escalation" }],
    });
    expect(attackFromTags(["attack.command-and-control"]).tactics).toEqual([
      { ...TACTICS.command_and_control, tag: "command_and_control" },
    ]);
  });
});
