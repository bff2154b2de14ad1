import { compileRule } from "./compile-rule";
import { Ruleset } from "./ruleset";
import { connectEvent, execEvent, ruleYaml } from "./test-helpers";

const detection = { s: { "Image|endswith": "/bash" }, condition: "s" };
const compile = (vigil: unknown, det: unknown = detection) =>
  compileRule(ruleYaml(det, { vigil }), "rules/x.yml");

function rejects(vigil: unknown): string {
  try {
    compile(vigil);
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error("expected the rule to be rejected");
}

const bash = execEvent({
  executable: "/usr/bin/bash",
  command_line: "bash -i",
  args: ["bash", "-i"],
  parent: { executable: "/usr/sbin/nginx", parent: { executable: "/sbin/init" } },
});

describe("extensions - output template", () => {
  test("renders Sigma names and ECS paths from the event; absent is '-', lists joined, {{ }} literal", () => {
    const rule = compile({
      output:
        "{{shell}} {CommandLine} by {User} under {ParentImage}/{GrandparentImage} on {host.name}: {process.args} {CurrentDirectory}",
    });
    expect(rule.output?.render(bash)).toBe(
      "{shell} bash -i by alice under /usr/sbin/nginx//sbin/init on web-1: bash, -i -",
    );
    expect(rule.output?.fields).toEqual([
      "process.command_line",
      "user.name",
      "process.parent.executable",
      "process.parent.parent.executable",
      "host.name",
      "process.args",
      "process.working_directory",
    ]);
  });

  test.each<[unknown, RegExp]>([
    [{ output: "by {Usr}" }, /vigil\.output: placeholder \{Usr\}: unknown field 'Usr'/],
    [
      { output: "to {DestinationPort}" },
      /placeholder \{DestinationPort\}: field 'DestinationPort' is not in process_creation/,
    ],
    [{ output: "open {User" }, /vigil\.output: unclosed '\{' at offset 5/],
    [{ output: "x } y" }, /vigil\.output: unmatched '\}'/],
    [{ output: "{}" }, /empty placeholder/],
    [{ output: 5 }, /vigil\.output: must be a non-empty string/],
    [{ outptu: "x" }, /vigil\.outptu: unknown key \(output, suppress, exceptions\)/],
    ["x", /vigil: must be a map/],
  ])("refuses %j", (vigil, message) => {
    expect(rejects(vigil)).toMatch(message);
  });
});

describe("extensions - suppression", () => {
  test("window and key by fields, carried in the compiled rule", () => {
    const rule = compile({ suppress: { window: "10m", by: ["host.name", "Image"] } });
    expect(rule.suppress).toMatchObject({
      window: "10m",
      windowMs: 600_000,
      by: ["host.name", "Image"],
      paths: ["host.name", "process.executable"],
    });
    const other = execEvent({ executable: "/usr/bin/bash" }, { host: { name: "web-2" } });
    expect(rule.suppress?.key(bash)).toBe(JSON.stringify(["web-1", "/usr/bin/bash"]));
    expect(rule.suppress?.key(other)).not.toBe(rule.suppress?.key(bash));
    expect(compile({ suppress: { window: "30s" } }).suppress?.key(bash)).toBe("[]");
  });

  test.each<[unknown, RegExp]>([
    [{ suppress: { window: "10 minutes" } }, /vigil\.suppress\.window: '10 minutes' is not a duration/],
    [{ suppress: { window: "8d" } }, /outside 1s\.\.7d/],
    [{ suppress: { window: "0s" } }, /outside 1s\.\.7d/],
    [{ suppress: { window: "1m", by: ["Nope"] } }, /vigil\.suppress\.by\[0\]: unknown field 'Nope'/],
    [{ suppress: { window: "1m", by: [1] } }, /vigil\.suppress\.by: must be a field name/],
    [{ suppress: { window: "1m", per: "x" } }, /vigil\.suppress\.per: unknown key/],
  ])("refuses %j", (vigil, message) => {
    expect(rejects(vigil)).toMatch(message);
  });
});

describe("extensions - exceptions", () => {
  const vigil = {
    exceptions: [
      {
        reason: "nginx health check runs bash",
        match: { ParentImage: "/usr/sbin/nginx", "CommandLine|contains": "-i" },
      },
      { match: { User: ["backup", "deploy"] } },
    ],
  };

  test("a match is dropped when every condition of an exception holds, in matches and in the Ruleset", () => {
    const rule = compile(vigil);
    expect(rule.exceptions.map((e) => [e.reason, e.keys])).toEqual([
      ["nginx health check runs bash", ["ParentImage", "CommandLine|contains"]],
      ["", ["User"]],
    ]);
    const plain = execEvent({ executable: "/usr/bin/bash", command_line: "bash" });
    const backup = execEvent({ executable: "/usr/bin/bash" }, { user: { name: "backup" } });
    expect(rule.matches(bash)).toBe(false);
    expect(rule.matches(backup)).toBe(false);
    expect(rule.matches(plain)).toBe(true);
    expect(new Ruleset([rule]).match(bash)).toEqual([]);
    expect(new Ruleset([rule]).match(plain)).toEqual([rule]);
  });

  test.each<[unknown, RegExp]>([
    [{ exceptions: [] }, /vigil\.exceptions: must be a non-empty list/],
    [{ exceptions: [{ reason: "x" }] }, /vigil\.exceptions\[0\]\.match: must be a map/],
    [{ exceptions: [{ match: { Imagee: "x" } }] }, /vigil\.exceptions\[0\]\.match: 'Imagee': unknown field/],
    [{ exceptions: [{ match: { User: "x" }, why: 1 }] }, /vigil\.exceptions\[0\]\.why: unknown key/],
  ])("refuses %j", (vigil, message) => {
    expect(rejects(vigil)).toMatch(message);
  });
});

describe("required paths - the index skips rules an event cannot satisfy", () => {
  test("derived from the condition: AND unions, OR intersects, NOT and null require nothing", () => {
    const paths = (det: unknown, category = "process_creation") =>
      compileRule(ruleYaml(det, { logsource: { product: "linux", category } }), "x.yml").requiredPaths;
    expect(paths({ a: { CommandLine: "x", User: "y" }, b: { "vigil.k": 1 }, condition: "a and b" })).toEqual([
      "process.command_line",
      "user.name",
      "vigil.k",
    ]);
    expect(
      paths({ a: { CommandLine: "x", User: "y" }, b: { CommandLine: "z" }, condition: "a or b" }),
    ).toEqual(["process.command_line"]);
    expect(paths({ a: { CommandLine: "x" }, f: { User: "y" }, condition: "a and not f" })).toEqual([
      "process.command_line",
    ]);
    expect(paths({ a: { CommandLine: [null, "x"], Image: "y" }, condition: "a" })).toEqual([]);
    expect(paths({ a: [{ User: "x", CommandLine: "y" }, { User: "z" }], condition: "a" })).toEqual([
      "user.name",
    ]);
    expect(paths({ s_1: { User: "x" }, s_2: { "vigil.k": 1 }, condition: "all of s_*" })).toEqual([
      "user.name",
      "vigil.k",
    ]);
    expect(paths({ s: { "DestinationPort|gt": 1000 }, condition: "s" }, "network_connection")).toEqual([
      "destination.port",
    ]);
  });

  test("a rule whose required path is absent is not run at all", () => {
    const rule = compileRule(
      ruleYaml({ s: { "vigil.stdin_remote_ip|cidr": "0.0.0.0/0" }, condition: "s" }),
      "x.yml",
    );
    let calls = 0;
    const counted = {
      ...rule,
      matchesDetection: (doc: Parameters<typeof rule.matchesDetection>[0]) => {
        calls++;
        return rule.matchesDetection(doc);
      },
    };
    const ruleset = new Ruleset([counted]);
    expect(ruleset.match(bash)).toEqual([]);
    expect(calls).toBe(0);
    const socket = execEvent({ executable: "/bin/sh" }, { vigil: { stdin_remote_ip: "10.0.0.9" } });
    expect(ruleset.match(socket)).toEqual([counted]);
    expect(calls).toBe(1);
    expect(ruleset.match(connectEvent({}))).toEqual([]);
  });
});
