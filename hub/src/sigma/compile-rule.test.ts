import { ErrorCodes, isVigilError } from "@vigil/common";
import { compileRule } from "./compile-rule";
import { MAX_REGEX_INPUT } from "./regex-guard";
import { compileDetection, connectEvent, execEvent, ruleYaml, TEST_RULE_ID } from "./test-helpers";

function compileError(text: string): string {
  try {
    compileRule(text, "rules/bad.yml");
  } catch (error) {
    expect(isVigilError(error, ErrorCodes.RULE_INVALID)).toBe(true);
    return (error as Error).message;
  }
  throw new Error("expected the rule to be rejected");
}

describe("compile-rule - metadata", () => {
  test("reads and normalises the rule's metadata", () => {
    const rule = compileRule(
      ruleYaml(
        { selection: { Image: "/usr/bin/nc" }, condition: "selection" },
        {
          description: "d",
          author: "a",
          references: ["https://example.org"],
          tags: [
            "attack.execution",
            "attack.t1059.004",
            "attack.command-and-control",
            "attack.s0001",
            "cve.2021-4034",
          ],
          falsepositives: "Admins",
        },
      ),
      "x.yml",
    );
    expect(rule).toMatchObject({
      id: TEST_RULE_ID,
      title: "Test rule",
      status: "test",
      level: "medium",
      description: "d",
      author: "a",
      references: ["https://example.org"],
      category: "process_creation",
      source: "x.yml",
      falsepositives: ["Admins"],
      techniques: [{ id: "T1059.004", name: "Command and Scripting Interpreter: Unix Shell" }],
      tactics: [
        { id: "TA0002", name: "Execution", tag: "execution" },
        { id: "TA0011", name: "Command and Control", tag: "command_and_control" },
      ],
    });
  });

  test.each([
    [
      ruleYaml({ s: { Image: "x" }, condition: "s" }, { id: "not-a-uuid" }),
      /rule not-a-uuid: id: 'not-a-uuid' is not a UUID/,
    ],
    [ruleYaml({ s: { Image: "x" }, condition: "s" }, { id: undefined }), /rule <no id>: id: missing/],
    [ruleYaml({ s: { Image: "x" }, condition: "s" }, { title: undefined }), /title: missing/],
    [
      ruleYaml({ s: { Image: "x" }, condition: "s" }, { level: "severe" }),
      /level: 'severe' is not supported \(one of informational/,
    ],
    [ruleYaml({ s: { Image: "x" }, condition: "s" }, { level: undefined }), /level: missing/],
    [ruleYaml({ s: { Image: "x" }, condition: "s" }, { status: "beta" }), /status: 'beta'/],
    [
      ruleYaml(
        { s: { Image: "x" }, condition: "s" },
        { logsource: { product: "windows", category: "process_creation" } },
      ),
      /logsource.product: 'windows'/,
    ],
    [
      ruleYaml({ s: { Image: "x" }, condition: "s" }, { logsource: { product: "linux", service: "auditd" } }),
      /logsource.category: missing/,
    ],
    [
      ruleYaml(
        { s: { Image: "x" }, condition: "s" },
        { logsource: { product: "linux", category: "registry_set" } },
      ),
      /'registry_set' is not supported/,
    ],
    [
      ruleYaml({ s: { Image: "x" }, condition: "s" }, { tags: ["execution"] }),
      /tags\[0\]: 'execution' is not namespace.value/,
    ],
    [
      ruleYaml({ s: { Image: "x" }, condition: "s" }, { references: [1] }),
      /references\[0\]: must be a string/,
    ],
    [ruleYaml(undefined), /detection: missing/],
  ])("rejects bad metadata %#", (text, message) => {
    expect(compileError(text)).toMatch(message);
  });

  test("error messages start with the file and rule id", () => {
    const message = compileError(ruleYaml({ s: { Image: "x" }, condition: "nope" }));
    expect(message).toBe(`rules/bad.yml: rule ${TEST_RULE_ID}: condition: unknown selection 'nope'`);
  });

  test.each([
    ["title: [unclosed", /rule <no id>: invalid YAML/],
    ["title: a\ntitle: b\n", /invalid YAML: Map keys must be unique/],
    ["- just\n- a list\n", /a rule must be a YAML map/],
    [
      `${ruleYaml({ s: { Image: "x" }, condition: "s" })}---\ntitle: second\n`,
      /expected one YAML document, found 2/,
    ],
    ["", /rule <no id>: file is empty/],
    ["# only a comment\n", /file is empty|a rule must be a YAML map/],
  ])("rejects malformed YAML %#", (text, message) => {
    expect(compileError(text)).toMatch(message);
  });
});

describe("compile-rule - detection errors", () => {
  test.each([
    [
      { s: { "Image|contians": "x" }, condition: "s" },
      /detection.s: 'Image\|contians': unknown modifier 'contians'/,
    ],
    [
      { s: { "CommandLine|expand": "%x%" }, condition: "s" },
      /modifier 'expand' is not supported: placeholders/,
    ],
    [
      { s: { "Image|contains|endswith": "x" }, condition: "s" },
      /'contains' and 'endswith' cannot be combined/,
    ],
    [{ s: { "Image|i": "x" }, condition: "s" }, /'i' is only valid after 're'/],
    [{ s: { "Image|contains|contains": "x" }, condition: "s" }, /given twice/],
    [{ s: { Imagee: "x" }, condition: "s" }, /unknown field 'Imagee'/],
    [{ s: { OriginalFileName: "x" }, condition: "s" }, /'OriginalFileName' has no equivalent/],
    [{ s: { Image: "x" }, condition: "s and t" }, /unknown selection 't'/],
    [{ s: { Image: "x" }, condition: "1 of filter_*" }, /'filter_\*' matches no selection/],
    [{ s: { Image: "x" } }, /detection.condition: missing/],
    [{ condition: "s" }, /no selections/],
    [{ s: {}, condition: "s" }, /selection 's' is empty/],
    [{ s: [], condition: "s" }, /must be a map, a list of maps or a list of keywords/],
    [{ s: "x", condition: "s" }, /must be a map/],
    [{ s: [{ Image: "x" }, "kw"], condition: "s" }, /only maps or only keywords/],
    [{ s: { Image: [] }, condition: "s" }, /empty value list/],
    [{ s: { Image: { nested: 1 } }, condition: "s" }, /value must be a string, number, boolean or null/],
    [
      { s: { "CommandLine|re": "(a)\\1" }, condition: "s" },
      /'CommandLine\|re': regular expression \/\(a\)\\1\/ refused: invalid escape sequence/,
    ],
    [{ s: { "CommandLine|re": "([a-z]" }, condition: "s" }, /refused: missing closing \)/],
    [{ s: { "CommandLine|re": 5 }, condition: "s" }, /must be a string/],
    [{ s: { "ProcessId|cidr": "10.0.0.0/33" }, condition: "s" }, /not a CIDR block/],
    [{ s: { "ProcessId|gt": "many" }, condition: "s" }, /'many' is not a number/],
    [{ s: { "Image|exists": "yes" }, condition: "s" }, /'exists' takes true or false/],
    [{ s: { Image: "x" }, condition: "s", timeframe: "5m" }, /windowed rules/],
    [{ s: { Image: "x" }, condition: "s | count() > 3" }, /aggregations/],
    [{ s: { Image: "x" }, condition: 5 }, /must be a string/],
    [{ "bad name!": { Image: "x" }, condition: "s" }, /invalid selection name/],
  ])("rejects %j", (detection, message) => {
    expect(compileError(ruleYaml(detection))).toMatch(message);
  });

  test("category-specific fields are refused elsewhere", () => {
    expect(compileError(ruleYaml({ s: { TargetUserId: 0 }, condition: "s" }))).toMatch(
      /field 'TargetUserId' is not in process_creation events \(it is in privilege_change\)/,
    );
    expect(() =>
      compileDetection({ s: { TargetUserId: 0 }, condition: "s" }, "privilege_change"),
    ).not.toThrow();
  });
});

describe("compile-rule - matching", () => {
  const bash = execEvent({
    executable: "/usr/bin/bash",
    name: "bash",
    args: ["bash", "-i"],
    command_line: "bash -i",
    parent: {
      pid: 1,
      executable: "/usr/sbin/sshd",
      command_line: "sshd: alice",
      parent: { executable: "/sbin/init" },
    },
  });

  test("a map is an AND of its fields, a value list an OR", () => {
    const rule = compileDetection({
      s: { Image: ["/usr/bin/zsh", "/usr/bin/bash"], CommandLine: "bash -i" },
      condition: "s",
    });
    expect(rule.matches(bash)).toBe(true);
    expect(rule.matches(execEvent({ executable: "/usr/bin/bash", command_line: "bash" }))).toBe(false);
  });

  test("a list of maps is an OR of ANDs", () => {
    const rule = compileDetection({
      s: [{ Image: "/usr/bin/zsh" }, { Image: "/usr/bin/bash", ParentImage: "/usr/sbin/sshd" }],
      condition: "s",
    });
    expect(rule.matches(bash)).toBe(true);
    expect(rule.matches(execEvent({ executable: "/usr/bin/bash" }))).toBe(false);
  });

  test("|all requires every value", () => {
    const rule = compileDetection({ s: { "CommandLine|contains|all": ["socket", "pty"] }, condition: "s" });
    expect(rule.matches(execEvent({ command_line: "python -c 'import socket,pty'" }))).toBe(true);
    expect(rule.matches(execEvent({ command_line: "python -c 'import socket'" }))).toBe(false);
  });

  test("array fields match when any element matches, and |all across elements", () => {
    const rule = compileDetection({ s: { "process.args": "-e" }, condition: "s" });
    expect(rule.matches(execEvent({ args: ["nc", "-e", "/bin/sh"] }))).toBe(true);
    expect(rule.matches(execEvent({ args: ["nc", "-l"] }))).toBe(false);
    const all = compileDetection({ s: { "process.args|all": ["nc", "-e"] }, condition: "s" });
    expect(all.matches(execEvent({ args: ["nc", "-e", "/bin/sh"] }))).toBe(true);
    expect(all.matches(execEvent({ args: ["nc", "-l"] }))).toBe(false);
  });

  test("string matching is case-insensitive; re is case-sensitive unless asked", () => {
    expect(compileDetection({ s: { "Image|endswith": "/BASH" }, condition: "s" }).matches(bash)).toBe(true);
    expect(compileDetection({ s: { "CommandLine|re": "^BASH" }, condition: "s" }).matches(bash)).toBe(false);
    expect(compileDetection({ s: { "CommandLine|re": "(?i)^BASH -I$" }, condition: "s" }).matches(bash)).toBe(
      true,
    );
    expect(compileDetection({ s: { "CommandLine|re|i": "^BASH" }, condition: "s" }).matches(bash)).toBe(true);
  });

  test("re only sees the first MAX_REGEX_INPUT characters", () => {
    const rule = compileDetection({ s: { "CommandLine|re": "END$" }, condition: "s" });
    expect(rule.matches(execEvent({ command_line: `${"x".repeat(100)}END` }))).toBe(true);
    expect(rule.matches(execEvent({ command_line: `${"x".repeat(MAX_REGEX_INPUT)}END` }))).toBe(false);
  });

  test("null matches a missing field; numbers compare with strings", () => {
    const noParent = compileDetection({ s: { ParentImage: null }, condition: "s" });
    expect(noParent.matches(execEvent({ executable: "/x" }))).toBe(true);
    expect(noParent.matches(bash)).toBe(false);
    const orNull = compileDetection({ s: { ParentImage: [null, "/usr/sbin/sshd"] }, condition: "s" });
    expect(orNull.matches(bash)).toBe(true);
    expect(orNull.matches(execEvent({ parent: { executable: "/bin/login" } }))).toBe(false);
    expect(compileDetection({ s: { ProcessId: 4242 }, condition: "s" }).matches(bash)).toBe(true);
    expect(compileDetection({ s: { ProcessId: "4242" }, condition: "s" }).matches(bash)).toBe(true);
    expect(compileDetection({ s: { "ProcessId|startswith": "42" }, condition: "s" }).matches(bash)).toBe(
      true,
    );
    expect(compileDetection({ s: { ParentProcessId: 2 }, condition: "s" }).matches(bash)).toBe(false);
  });

  test("exists", () => {
    expect(compileDetection({ s: { "GrandparentImage|exists": true }, condition: "s" }).matches(bash)).toBe(
      true,
    );
    expect(compileDetection({ s: { "Container|exists": true }, condition: "s" }).matches(bash)).toBe(false);
    expect(compileDetection({ s: { "Container|exists": false }, condition: "s" }).matches(bash)).toBe(true);
  });

  test("numeric comparisons", () => {
    const high = compileDetection(
      { s: { "DestinationPort|gte": 1024 }, condition: "s" },
      "network_connection",
    );
    expect(high.matches(connectEvent({ destination: { ip: "1.2.3.4", port: 4444 } }))).toBe(true);
    expect(high.matches(connectEvent({ destination: { ip: "1.2.3.4", port: 443 } }))).toBe(false);
    expect(high.matches(connectEvent({ destination: { ip: "1.2.3.4", port: "8080" } }))).toBe(true);
    expect(high.matches(connectEvent({ destination: { ip: "1.2.3.4" } }))).toBe(false);
    const low = compileDetection({ s: { "DestinationPort|lt": 1024 }, condition: "s" }, "network_connection");
    expect(low.matches(connectEvent({ destination: { ip: "1.2.3.4", port: 22 } }))).toBe(true);
  });

  test("cidr covers IPv4, IPv6 and mapped addresses", () => {
    const rule = compileDetection(
      { s: { "DestinationIp|cidr": ["10.0.0.0/8", "fd00::/8", "127.0.0.1"] }, condition: "s" },
      "network_connection",
    );
    expect(rule.matches(connectEvent({ destination: { ip: "10.9.8.7", port: 1 } }))).toBe(true);
    expect(rule.matches(connectEvent({ destination: { ip: "fd12::1", port: 1 } }))).toBe(true);
    expect(rule.matches(connectEvent({ destination: { ip: "::ffff:10.0.0.1", port: 1 } }))).toBe(true);
    expect(rule.matches(connectEvent({ destination: { ip: "127.0.0.1", port: 1 } }))).toBe(true);
    expect(rule.matches(connectEvent({ destination: { ip: "11.0.0.1", port: 1 } }))).toBe(false);
    expect(rule.matches(connectEvent({ destination: { ip: "not an ip", port: 1 } }))).toBe(false);
  });

  test("Initiated maps Sigma booleans onto network.direction", () => {
    const rule = compileDetection({ s: { Initiated: "true" }, condition: "s" }, "network_connection");
    expect(rule.matches(connectEvent({}))).toBe(true);
    expect(rule.matches(connectEvent({ network: { direction: "egress" } }))).toBe(true);
    expect(rule.matches(connectEvent({ network: { direction: "ingress" } }))).toBe(false);
    expect(rule.matches(connectEvent({ network: { direction: "inbound" } }))).toBe(false);
    const bool = compileDetection({ s: { Initiated: false }, condition: "s" }, "network_connection");
    expect(bool.matches(connectEvent({ network: { direction: "inbound" } }))).toBe(true);
    expect(bool.matches(connectEvent({ network: { direction: "ingress" } }))).toBe(true);
  });

  test("ECS dotted paths and Vigil ancestry fields", () => {
    expect(
      compileDetection({ s: { "process.parent.parent.executable": "/sbin/init" }, condition: "s" }).matches(
        bash,
      ),
    ).toBe(true);
    expect(compileDetection({ s: { GrandparentImage: "/sbin/init" }, condition: "s" }).matches(bash)).toBe(
      true,
    );
    expect(compileDetection({ s: { "host.name": "WEB-1" }, condition: "s" }).matches(bash)).toBe(true);
  });

  test("Image, ParentImage and GrandparentImage read the resolved file and the path the exec was given", () => {
    // /bin/sh -> busybox, exec'd by a python3 -> python3.11 started from a #! script.
    const sh = execEvent({
      executable: "/bin/busybox",
      exec_filename: "/bin/sh",
      parent: {
        executable: "/usr/bin/python3.11",
        exec_filename: "/usr/bin/python3",
        parent: { executable: "/usr/bin/dash", exec_filename: "/usr/sbin/dkms" },
      },
    });
    const matches = (detection: Record<string, unknown>) =>
      compileDetection({ s: detection, condition: "s" }).matches(sh);
    expect(matches({ "Image|endswith": "/sh" })).toBe(true);
    expect(matches({ "Image|endswith": "/busybox" })).toBe(true);
    expect(matches({ "Image|endswith": "/bash" })).toBe(false);
    expect(matches({ "Image|endswith|all": ["/busybox", "/sh"] })).toBe(true);
    expect(matches({ Image: null })).toBe(false);
    expect(matches({ "ParentImage|endswith": "/python3" })).toBe(true);
    expect(matches({ "ParentImage|endswith": "/python3.11" })).toBe(true);
    expect(matches({ "GrandparentImage|endswith": "/dkms" })).toBe(true);
    // The ECS path alone is only the resolved file (what exclusions should use).
    expect(matches({ "process.executable|endswith": "/sh" })).toBe(false);
    expect(matches({ "process.exec_filename": "/bin/sh" })).toBe(true);
    // Without exec_filename (same path, or a collector that has none) Image is the executable alone.
    const plain = execEvent({ executable: "/usr/bin/bash" });
    expect(compileDetection({ s: { Image: "/usr/bin/bash" }, condition: "s" }).matches(plain)).toBe(true);
    expect(compileDetection({ s: { Image: null }, condition: "s" }).matches(execEvent({}))).toBe(true);
  });

  test("conditions: not, 1 of, all of, them, _helpers", () => {
    const detection = {
      selection_a: { Image: "/usr/bin/bash" },
      selection_b: { CommandLine: "bash -i" },
      filter: { ParentImage: "/usr/sbin/sshd" },
    };
    const run = (condition: string) => compileDetection({ ...detection, condition }).matches(bash);
    expect(run("all of selection_*")).toBe(true);
    expect(run("all of selection_* and not filter")).toBe(false);
    expect(run("1 of selection_* and not filter or selection_a")).toBe(true);
    expect(run("1 of selection_* and not (filter or selection_a)")).toBe(false);
    expect(run("all of them")).toBe(true);
    expect(run("not 1 of them")).toBe(false);
    const helper = compileDetection({
      sel: { Image: "/usr/bin/bash" },
      _h: { Image: "/nope" },
      condition: "all of them",
    });
    expect(helper.matches(bash)).toBe(true);
    expect(
      compileDetection({ ...detection, condition: ["filter and selection_b", "selection_a"] }).matches(bash),
    ).toBe(true);
  });

  test("keywords search the command line and paths", () => {
    const rule = compileDetection({ keywords: ["/DEV/TCP/", "mkfifo"], condition: "keywords" });
    expect(rule.matches(execEvent({ command_line: "bash -c 'exec 5<>/dev/tcp/1.2.3.4/80'" }))).toBe(true);
    expect(rule.matches(bash)).toBe(false);
  });

  test("matches also checks the logsource category", () => {
    const rule = compileDetection({ s: { Image: "/usr/bin/bash" }, condition: "s" });
    expect(rule.matches(bash)).toBe(true);
    const exit = { ...bash, event: { kind: "event", category: ["process"], type: ["end"], action: "exit" } };
    expect(rule.matches(exit)).toBe(false);
    expect(rule.matchesDetection(exit)).toBe(true);
  });

  test("objects and missing parents never match strings", () => {
    const rule = compileDetection({ s: { "Image|contains": "object" }, condition: "s" });
    expect(rule.matches(execEvent({ executable: { nested: "object" } }))).toBe(false);
    expect(compileDetection({ s: { ParentImage: "*" }, condition: "s" }).matches(execEvent({}))).toBe(false);
    expect(compileDetection({ s: { ParentImage: "*" }, condition: "s" }).matches(bash)).toBe(true);
  });
});
