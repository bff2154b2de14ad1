import type { Gate } from "./literal-gates";
import { compileDetection } from "./test-helpers";

/** A rule's gate as `field: literals` pairs (paths joined), for readable expectations. */
function gateOf(detection: unknown, category?: Parameters<typeof compileDetection>[1]): unknown {
  const gate: Gate | undefined = compileDetection(detection, category).gate;
  return gate?.map((g) => [
    [g.path, ...g.alsoPaths].map((p) => p.join(".")).join("|"),
    [...g.literals].sort(),
  ]);
}

describe("literal gates", () => {
  test("a value list: any of its literals, lower-cased, from every operator", () => {
    expect(gateOf({ sel: { "CommandLine|contains": ["NC -e", "ncat -e"] }, condition: "sel" })).toEqual([
      ["process.command_line", ["nc -e", "ncat -e"]],
    ]);
    expect(gateOf({ sel: { "Image|endswith": "/socat" }, condition: "sel" })).toEqual([
      ["process.executable|process.exec_filename", ["/socat"]],
    ]);
    expect(gateOf({ sel: { User: "root" }, condition: "sel" })).toEqual([["user.name", ["root"]]]);
  });

  test("a literal containing another is dropped: finding the shorter is enough", () => {
    expect(gateOf({ sel: { "CommandLine|contains": ["wget", "wget -q"] }, condition: "sel" })).toEqual([
      ["process.command_line", ["wget"]],
    ]);
  });

  test("wildcards: the longest literal run; a `?` splits a run", () => {
    expect(gateOf({ sel: { CommandLine: "*/dev/tcp/*/4444*" }, condition: "sel" })).toEqual([
      ["process.command_line", ["/dev/tcp/"]],
    ]);
    expect(gateOf({ sel: { CommandLine: "ab?cdef*" }, condition: "sel" })).toEqual([
      ["process.command_line", ["cdef"]],
    ]);
  });

  test("a regular expression gives the literal every match contains; one without gives no gate", () => {
    expect(gateOf({ sel: { "CommandLine|re": "bash +-i >& ?/dev/tcp/" }, condition: "sel" })).toEqual([
      ["process.command_line", ["/dev/tcp/"]],
    ]);
    expect(gateOf({ sel: { "CommandLine|re": "(a|b)c" }, condition: "sel" })).toBeUndefined();
  });

  test("`cased` and windash: case-folded literals of every variant", () => {
    const gate = gateOf({ sel: { "CommandLine|windash|contains": " -Enc" }, condition: "sel" }) as [
      string,
      string[],
    ][];
    expect(gate[0][1]).toEqual(expect.arrayContaining([" -enc", " /enc"]));
    expect(gateOf({ sel: { "CommandLine|cased|contains": "AbC" }, condition: "sel" })).toEqual([
      ["process.command_line", ["abc"]],
    ]);
  });

  test("entries that match without a literal give no gate: null, '', a one-character value, numbers compared", () => {
    expect(gateOf({ sel: { CommandLine: null }, condition: "sel" })).toBeUndefined();
    expect(gateOf({ sel: { CommandLine: ["", "x -y"] }, condition: "sel" })).toBeUndefined();
    expect(gateOf({ sel: { "CommandLine|contains": ["a", "bc"] }, condition: "sel" })).toBeUndefined();
    expect(gateOf({ sel: { "ProcessId|gt": 100 }, condition: "sel" })).toBeUndefined();
    expect(gateOf({ sel: { "CommandLine|exists": true }, condition: "sel" })).toBeUndefined();
  });

  test("a map needs every entry: the most selective gate is kept", () => {
    expect(
      gateOf({
        sel: { "Image|endswith": ["/sh", "/bash", "/dash"], "CommandLine|contains": "/dev/tcp/" },
        condition: "sel",
      }),
    ).toEqual([["process.command_line", ["/dev/tcp/"]]]);
  });

  test("`|all`: the best single value is enough", () => {
    expect(gateOf({ sel: { "CommandLine|contains|all": ["-e", "/bin/sh"] }, condition: "sel" })).toEqual([
      ["process.command_line", ["/bin/sh"]],
    ]);
  });

  test("or / list of maps / 1 of: the union, and none when one branch has none", () => {
    expect(
      gateOf({
        a: { "CommandLine|contains": "xmrig" },
        b: { "Image|endswith": "/minerd" },
        condition: "a or b",
      }),
    ).toEqual([
      ["process.command_line", ["xmrig"]],
      ["process.executable|process.exec_filename", ["/minerd"]],
    ]);
    expect(
      gateOf({
        sel: [{ "CommandLine|contains": "xmrig" }, { "CommandLine|contains": "cpuminer" }],
        condition: "sel",
      }),
    ).toEqual([["process.command_line", ["cpuminer", "xmrig"]]]);
    expect(
      gateOf({
        sel_a: { "CommandLine|contains": "xmrig" },
        sel_b: { "ProcessId|gt": 1 },
        condition: "1 of sel_*",
      }),
    ).toBeUndefined();
  });

  test("and / all of: the best branch; not: no gate from the negated part", () => {
    expect(
      gateOf({
        sel: { "CommandLine|contains": "/etc/shadow" },
        filter: { "Image|endswith": "/passwd" },
        condition: "sel and not filter",
      }),
    ).toEqual([["process.command_line", ["/etc/shadow"]]]);
    expect(gateOf({ filter: { "Image|endswith": "/passwd" }, condition: "not filter" })).toBeUndefined();
    expect(
      gateOf({
        sel_a: { "CommandLine|contains": "ab" },
        sel_b: { "CommandLine|contains": "shadow" },
        condition: "all of sel_*",
      }),
    ).toEqual([["process.command_line", ["shadow"]]]);
  });

  test("keyword lists give no gate (they search several fields)", () => {
    expect(gateOf({ keywords: ["xmrig", "stratum+tcp"], condition: "keywords" })).toBeUndefined();
  });
});
