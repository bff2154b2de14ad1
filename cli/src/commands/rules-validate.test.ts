import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { validateRules } from "./rules-validate";

// `vigil rules validate` on real files: each problem a rule author can make
// is printed as file:line:column: message (where the YAML says it), exit 1;
// good rules, correlations with their base rules, and the shipped ruleset
// are ok.

const SHIPPED = join(__dirname, "..", "..", "..", "rules");

const BASE_ID = "6c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f";

const base = `title: Curl run
id: ${BASE_ID}
name: curl_run
logsource:
  product: linux
  category: process_creation
detection:
  selection:
    Image|endswith: /curl
  condition: selection
level: low
`;

const correlation = `title: Three curls
id: 6c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e50
correlation:
  type: event_count
  rules:
    - curl_run
  group-by:
    - host.name
  timespan: 1m
  condition:
    gte: 3
level: medium
`;

describe("vigil rules validate", () => {
  let root: string;
  let printed: string[];
  let savedExitCode: typeof process.exitCode;

  function file(name: string, text: string): string {
    const path = join(root, name);
    mkdirSync(join(path, ".."), { recursive: true });
    writeFileSync(path, text);
    return path;
  }

  function run(paths: string[], rules?: string): { lines: string[]; exitCode: typeof process.exitCode } {
    printed = [];
    process.exitCode = undefined;
    validateRules(paths, { json: false, rules });
    const exitCode = process.exitCode;
    process.exitCode = undefined;
    return { lines: printed.join("").split("\n").filter(Boolean), exitCode };
  }

  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), "default-ruleset-validate-"));
    savedExitCode = process.exitCode;
    jest.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
      printed.push(String(chunk));
      return true;
    });
  });

  afterAll(() => {
    jest.restoreAllMocks();
    process.exitCode = savedExitCode;
    rmSync(root, { recursive: true, force: true });
  });

  test("a good rule is ok, exit code 0", () => {
    const path = file("good/curl.yml", base);
    expect(run([path])).toEqual({ lines: [`${path}: ok`], exitCode: undefined });
  });

  test("an unknown field is named at its line and column", () => {
    const path = file("bad/field.yml", base.replace("Image|endswith", "Imagee|endswith"));
    expect(run([path])).toEqual({
      lines: [
        `${path}:9:5: detection.selection: 'Imagee|endswith': unknown field 'Imagee' (use a Sigma field from rules/FIELDS.md or a dotted ECS path)`,
      ],
      exitCode: 1,
    });
  });

  test("an unknown modifier, a bad condition and a missing logsource each point where they are (or name what is missing)", () => {
    const modifier = file("bad/modifier.yml", base.replace("Image|endswith", "Image|endswit"));
    const condition = file(
      "bad/condition.yml",
      base.replace("condition: selection", "condition: selection and nope"),
    );
    const logsource = file("bad/logsource.yml", base.replace(/logsource:\n.*\n.*\n/, ""));
    const { lines, exitCode } = run([modifier, condition, logsource]);
    expect(exitCode).toBe(1);
    expect(lines).toEqual([
      expect.stringMatching(
        /^.*modifier\.yml:9:5: detection\.selection: 'Image\|endswit': unknown modifier 'endswit'/,
      ),
      expect.stringMatching(/^.*condition\.yml:10:3: condition: unknown selection 'nope'$/),
      expect.stringMatching(/^.*logsource\.yml: logsource: missing/),
    ]);
  });

  test("YAML syntax errors carry the parser's line and column", () => {
    const path = file("bad/syntax.yml", `${base}  bad: [unclosed\n`);
    const { lines, exitCode } = run([path]);
    expect(exitCode).toBe(1);
    expect(lines[0]).toMatch(
      new RegExp(`^${path.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:\\d+:\\d+: invalid YAML: `),
    );
  });

  test("a correlation alone names the rule it cannot find; with its base rule (same files, a directory, or --rules) it is ok", () => {
    const corr = file("corr/three-curls.yml", correlation);
    expect(run([corr])).toEqual({
      lines: [
        `${corr}:6:7: correlation.rules[0]: unknown rule 'curl_run' (no rule in this ruleset has this id or name)`,
      ],
      exitCode: 1,
    });
    const baseFile = file("corr/curl.yml", base);
    expect(run([corr, baseFile]).exitCode).toBeUndefined();
    expect(run([join(root, "corr")]).exitCode).toBeUndefined();
    const context = file("context/curl.yml", base);
    expect(run([corr], join(root, "context"))).toEqual({ lines: [`${corr}: ok`], exitCode: undefined });
    expect(context).toBeDefined();
  });

  test("a problem in a correlation's own section points into its document of a multi-document file", () => {
    const path = file(
      "multi/both.yml",
      `${base}---\n${correlation.replace("timespan: 1m", "timespan: 1 minute")}`,
    );
    const { lines, exitCode } = run([path]);
    expect(exitCode).toBe(1);
    expect(lines).toEqual([expect.stringMatching(/^.*both\.yml:21:\d+: .*timespan/)]);
  });

  test("the shipped ruleset validates clean", () => {
    const { lines, exitCode } = run([SHIPPED]);
    expect({ lines, exitCode }).toEqual({ lines: [`${SHIPPED}: ok`], exitCode: undefined });
  });

  test("a path that does not exist is refused with the reason; --json gives valid and problems", () => {
    expect(() => validateRules([join(root, "missing.yml")], { json: false })).toThrow(
      /^cannot read .*missing\.yml: ENOENT/,
    );
    const path = file("json/bad.yml", base.replace("Image|endswith", "Imagee|endswith"));
    printed = [];
    validateRules([path], { json: true });
    process.exitCode = undefined;
    expect(JSON.parse(printed.join(""))).toEqual({
      valid: false,
      problems: [
        { file: path, line: 9, column: 5, message: expect.stringContaining("unknown field 'Imagee'") },
      ],
    });
  });
});
