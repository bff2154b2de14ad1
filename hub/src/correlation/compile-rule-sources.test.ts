import { compileRuleSources } from "./compile-rule-sources";
import { parseTimespan } from "./timespan";

const BASE_ID = "7c1e4a52-0d4b-4f7e-9a0c-1b2c3d4e5f01";
const OTHER_ID = "7c1e4a52-0d4b-4f7e-9a0c-1b2c3d4e5f02";
const CORR_ID = "7c1e4a52-0d4b-4f7e-9a0c-1b2c3d4e5fc1";

function base(id: string, name: string, needle: string, category = "process_creation"): string {
  return `title: Base ${name}
id: ${id}
name: ${name}
status: test
level: low
logsource: { product: linux, category: ${category} }
detection:
  selection:
    CommandLine|contains: ${needle}
  condition: selection
`;
}

/** A correlation document with `section` as its correlation map (YAML, indented by 2). */
function correlation(section: string, extra = ""): string {
  return `title: Correlated
id: ${CORR_ID}
level: high
${extra}correlation:
${section
  .trim()
  .split("\n")
  .map((line) => `  ${line}`)
  .join("\n")}
`;
}

function compile(...texts: string[]) {
  return compileRuleSources(texts.map((text, i) => ({ source: `file${i}.yml`, text })));
}

function errorsOf(...texts: string[]): string[] {
  return compile(...texts).errors.map((error) => error.message);
}

describe("correlation rules - parsing and validation", () => {
  test("correlation rules - one multi-document file holds the correlation and its base rules, referenced by name or id", () => {
    const file = [
      correlation(`
type: event_count
rules: [whoami_run, ${OTHER_ID}]
group-by: [host.name, User]
timespan: 5m
condition: { gte: 3 }`),
      base(BASE_ID, "whoami_run", "whoami"),
      base(OTHER_ID, "id_run", " id"),
    ].join("---\n");
    const { rules, correlations, errors } = compile(file);
    expect(errors.map((error) => error.message)).toEqual([]);
    expect(rules.map((rule) => rule.id)).toEqual([BASE_ID, OTHER_ID]);
    expect(correlations).toHaveLength(1);
    const [rule] = correlations;
    expect(rule).toMatchObject({
      id: CORR_ID,
      type: "event_count",
      timespanMs: 300_000,
      threshold: 3,
      generate: false,
      level: "high",
    });
    expect(rule.referenced.map((ref) => ref.id)).toEqual([BASE_ID, OTHER_ID]);
    // Sigma field names map to ECS paths like in detections.
    expect(rule.referenced[0].groupPaths).toEqual([
      ["host", "name"],
      ["user", "name"],
    ]);
  });

  test("correlation rules - conditions reduce to the count at which the window fires", () => {
    const withCondition = (condition: string) =>
      compile(
        base(BASE_ID, "b", "x"),
        correlation(`
type: event_count
rules: [b]
group-by: [host.name]
timespan: 1m
condition: ${condition}`),
      );
    expect(withCondition("{ gt: 4 }").correlations[0]).toMatchObject({ threshold: 5 });
    expect(withCondition("{ eq: 7 }").correlations[0]).toMatchObject({ threshold: 7, ceiling: 7 });
    expect(withCondition("{ gt: 100, lte: 200 }").correlations[0]).toMatchObject({
      threshold: 101,
      ceiling: 200,
    });
    expect(withCondition("{ lt: 5 }").errors[0].message).toContain(
      "correlation.condition: needs gt, gte or eq",
    );
    expect(withCondition("{ gt: 10, lt: 5 }").errors[0].message).toContain("can never be met");
    expect(withCondition("{ gte: 5000 }").errors[0].message).toContain("a count above 1000 is not supported");
    expect(withCondition("{ gte: -1 }").errors[0].message).toContain(
      "correlation.condition.gte: must be a whole number",
    );
    expect(withCondition("{ above: 3 }").errors[0].message).toContain("correlation.condition.above: unknown");
    expect(withCondition("{ gte: 2, field: User }").errors[0].message).toContain(
      "correlation.condition.field: only value_count counts a field",
    );
  });

  test("correlation rules - value_count needs a field, and the field must exist in the rules' events", () => {
    const valueCount = (condition: string) =>
      compile(
        base(BASE_ID, "b", "x"),
        correlation(`
type: value_count
rules: [b]
group-by: [host.name]
timespan: 10m
condition: ${condition}`),
      );
    expect(valueCount("{ gte: 3 }").errors[0].message).toContain("correlation.condition.field: missing");
    const ok = valueCount("{ gte: 3, field: Image }");
    expect(ok.errors).toEqual([]);
    expect(ok.correlations[0].referenced[0].valuePath).toEqual(["process", "executable"]);
    expect(valueCount("{ gte: 3, field: OriginalFileName }").errors[0].message).toContain(
      "correlation.condition.field: field 'OriginalFileName' has no equivalent in Vigil events (in the events of rule 'b')",
    );
  });

  test("correlation rules - precise errors name the file, the rule and what is wrong", () => {
    const b = base(BASE_ID, "b", "x");
    const cases: Array<[string, string]> = [
      [
        correlation(
          "type: event_count\nrules: [nope]\ngroup-by: [host.name]\ntimespan: 5m\ncondition: { gte: 2 }",
        ),
        "file1.yml: rule 7c1e4a52-0d4b-4f7e-9a0c-1b2c3d4e5fc1: correlation.rules[0]: unknown rule 'nope' (no rule in this ruleset has this id or name)",
      ],
      [
        correlation(
          "type: event_count\nrules: [b]\ngroup-by: [host.name]\ntimespan: 5 minutes\ncondition: { gte: 2 }",
        ),
        "correlation.timespan: '5 minutes' is not a timespan (a number and s, m, h or d, e.g. 5m)",
      ],
      [
        correlation(
          "type: event_count\nrules: [b]\ngroup-by: [host.name]\ntimespan: 2d\ncondition: { gte: 2 }",
        ),
        "correlation.timespan: '2d' is longer than the 1d Vigil keeps windows",
      ],
      [
        correlation(
          "type: event_count\nrules: [b]\ngroup-by: [Nonsense]\ntimespan: 5m\ncondition: { gte: 2 }",
        ),
        "correlation.group-by[0]: unknown field 'Nonsense'",
      ],
      [
        correlation("type: event_count\nrules: [b]\ngroup-by: [host.name]\ntimespan: 5m"),
        "correlation.condition: missing",
      ],
      [
        correlation("type: sequence\nrules: [b]\ngroup-by: [host.name]\ntimespan: 5m"),
        "correlation.type: 'sequence' is not supported (one of event_count, value_count, temporal, temporal_ordered)",
      ],
      [
        correlation("type: temporal\nrules: [b]\ngroup-by: [host.name]\ntimespan: 5m"),
        "temporal needs at least two rules",
      ],
      [
        correlation(
          "type: event_count\nrules: [b]\ngroup_by: [host.name]\ntimespan: 5m\ncondition: { gte: 2 }",
        ),
        "correlation.group_by: unknown",
      ],
      [
        correlation(
          "type: event_count\nrules: [b]\ngroup-by: [host.name]\ntimespan: 5m\ncondition: { gte: 2 }",
          "generate: yes please\n",
        ),
        "generate: must be true or false",
      ],
      [
        correlation(
          "type: event_count\nrules: [b]\ngroup-by: [host.name]\ntimespan: 5m\ncondition: { gte: 2 }",
        ).replace(`id: ${CORR_ID}`, "id: not-a-uuid"),
        "id: 'not-a-uuid' is not a UUID",
      ],
    ];
    for (const [text, expected] of cases) {
      const messages = errorsOf(b, text);
      expect(messages).toHaveLength(1);
      expect(messages[0]).toContain(expected);
    }
  });

  test("correlation rules - the fields a correlation shares with a base rule are refused in the same words", () => {
    // `line` replaces the document's own top-level `key:` line, if any.
    const withField = (text: string, key: string, line: string) =>
      `${line}\n${text
        .split("\n")
        .filter((old) => !old.startsWith(`${key}:`))
        .join("\n")}`;
    const section =
      "type: event_count\nrules: [b]\ngroup-by: [host.name]\ntimespan: 5m\ncondition: { gte: 2 }";
    const badFields: Array<[string, string, string]> = [
      ["level", "level: severe", "level: 'severe' is not supported (one of informational, low, medium"],
      ["status", "status: beta", "status: 'beta' is not supported (one of"],
      ["title", "title: '  '", "title: must not be empty"],
      ["title", "title: [x]", "title: must be a string"],
      ["author", "author: 5", "author: must be a string"],
      ["tags", "tags: [execution]", "tags[0]: 'execution' is not namespace.value"],
      ["references", "references: [1]", "references[0]: must be a string"],
      ["falsepositives", "falsepositives: { a: 1 }", "falsepositives: must be a list of strings"],
    ];
    for (const [key, line, expected] of badFields) {
      expect(errorsOf(withField(base(BASE_ID, "b", "x"), key, line))).toEqual([
        expect.stringContaining(`rule ${BASE_ID}: ${expected}`),
      ]);
      expect(errorsOf(base(BASE_ID, "b", "x"), withField(correlation(section), key, line))).toEqual([
        expect.stringContaining(`rule ${CORR_ID}: ${expected}`),
      ]);
    }
  });

  test("correlation rules - an empty name in rules or group-by is refused", () => {
    const b = base(BASE_ID, "b", "x");
    expect(
      errorsOf(b, correlation("type: event_count\nrules: [b, '']\ntimespan: 5m\ncondition: { gte: 2 }")),
    ).toEqual([expect.stringContaining("correlation.rules[1]: must not be empty")]);
    expect(
      errorsOf(
        b,
        correlation("type: event_count\nrules: [b]\ngroup-by: ['']\ntimespan: 5m\ncondition: { gte: 2 }"),
      ),
    ).toEqual([expect.stringContaining("correlation.group-by[0]: must not be empty")]);
  });

  test("correlation rules - aliases give each rule its own field for one group-by key", () => {
    const connect = `title: Outbound
id: ${OTHER_ID}
name: outbound
level: low
logsource: { product: linux, category: network_connection }
detection:
  selection: { DestinationPort: 4444 }
  condition: selection
`;
    const section = (aliases: string) => `
type: temporal
rules: [b, outbound]
group-by: [peer]
timespan: 1m
aliases:
${aliases}`;
    const ok = compile(
      base(BASE_ID, "b", "x"),
      connect,
      correlation(section("  peer:\n    b: ParentImage\n    outbound: Image")),
    );
    expect(ok.errors).toEqual([]);
    expect(ok.correlations[0].referenced.map((ref) => ref.groupPaths)).toEqual([
      [["process", "parent", "executable"]],
      [["process", "executable"]],
    ]);
    const missing = compile(
      base(BASE_ID, "b", "x"),
      connect,
      correlation(section("  peer:\n    b: ParentImage")),
    );
    expect(missing.errors[0].message).toContain(
      "correlation.aliases.peer: no field given for rule 'outbound'",
    );
    const stray = compile(
      base(BASE_ID, "b", "x"),
      connect,
      correlation(section("  peer:\n    b: ParentImage\n    outbound: Image\n    other: source.ip")),
    );
    expect(stray.errors[0].message).toContain(
      "correlation.aliases.peer.other: 'other' is not one of the correlated rules",
    );
  });

  test("correlation rules - chains of correlations resolve; loops are refused", () => {
    const inner = `title: Inner
id: 7c1e4a52-0d4b-4f7e-9a0c-1b2c3d4e5fc2
name: inner
correlation:
  type: event_count
  rules: [b]
  group-by: [host.name]
  timespan: 5m
  condition: { gte: 2 }
`;
    const outer = correlation(`
type: temporal_ordered
rules: [inner, other]
group-by: [host.name]
timespan: 10m`);
    const chained = compile(base(BASE_ID, "b", "x"), base(OTHER_ID, "other", "y"), inner, outer);
    expect(chained.errors).toEqual([]);
    expect(chained.correlations.map((rule) => rule.referenced.map((ref) => ref.kind))).toEqual([
      ["base"],
      ["correlation", "base"],
    ]);
    const loop = inner.replace("rules: [b]", `rules: [${CORR_ID}]`);
    const looped = compile(base(BASE_ID, "b", "x"), base(OTHER_ID, "other", "y"), loop, outer);
    expect(looped.correlations).toEqual([]);
    expect(looped.errors.map((error) => error.message).join("\n")).toContain("loops back");
  });

  test("correlation rules - a bad base rule or a duplicate id is reported and the others still load", () => {
    const result = compile(
      base(BASE_ID, "b", "x"),
      base(BASE_ID, "again", "y"),
      base(OTHER_ID, "c", "z").replace("CommandLine|contains", "CommandLine|nope"),
    );
    expect(result.rules.map((rule) => rule.id)).toEqual([BASE_ID]);
    expect(result.errors.map((error) => error.message)).toEqual([
      expect.stringContaining("file1.yml: rule 7c1e4a52-0d4b-4f7e-9a0c-1b2c3d4e5f01: duplicate rule id"),
      expect.stringContaining("unknown modifier 'nope'"),
    ]);
  });

  test("correlation rules - timespans", () => {
    expect(parseTimespan("30s")).toEqual({ ok: true, ms: 30_000 });
    expect(parseTimespan("90m")).toEqual({ ok: true, ms: 5_400_000 });
    expect(parseTimespan("1d")).toEqual({ ok: true, ms: 86_400_000 });
    expect(parseTimespan("0m").ok).toBe(false);
    expect(parseTimespan("5M").ok).toBe(false);
    expect(parseTimespan(5).ok).toBe(false);
  });
});
