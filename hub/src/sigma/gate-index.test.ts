import { join } from "node:path";
import { RuleTestRunner } from "../rule-tests/rule-test-runner";
import { GateIndex } from "./gate-index";
import type { Gate } from "./literal-gates";
import { execEvent } from "./test-helpers";
import type { EcsDocument } from "./types";

const COMMAND_LINE: Gate = [
  { path: ["process", "command_line"], alsoPaths: [], literals: ["nc -e", "/dev/tcp/"] },
];
const IMAGE: Gate = [
  { path: ["process", "executable"], alsoPaths: [["process", "exec_filename"]], literals: ["/socat"] },
];

function openRules(index: GateIndex, count: number, doc: EcsDocument): number[] {
  index.scan(doc);
  return [...Array(count).keys()].filter((position) => index.isOpen(position));
}

describe("GateIndex", () => {
  test("a rule opens when one of its literals occurs anywhere in the lower-cased field", () => {
    const index = new GateIndex([COMMAND_LINE, IMAGE, undefined]);
    expect(openRules(index, 3, execEvent({ command_line: "NC -e /bin/sh 10.0.0.1" }))).toEqual([0, 2]);
    expect(openRules(index, 3, execEvent({ command_line: "bash -c 'cat </dev/tcp/x/1'" }))).toEqual([0, 2]);
    expect(openRules(index, 3, execEvent({ command_line: "ends with nc -e" }))).toEqual([0, 2]);
    // A rule without a gate is always open; nothing stays open from the event before.
    expect(openRules(index, 3, execEvent({ command_line: "ls -la" }))).toEqual([2]);
  });

  test("a field read from several paths opens on any of its values", () => {
    const index = new GateIndex([IMAGE]);
    expect(openRules(index, 1, execEvent({ executable: "/usr/bin/socat" }))).toEqual([0]);
    expect(
      openRules(index, 1, execEvent({ executable: "/usr/bin/busybox", exec_filename: "/tmp/SOCAT" })),
    ).toEqual([0]);
    expect(openRules(index, 1, execEvent({ executable: "/usr/bin/cat" }))).toEqual([]);
    expect(openRules(index, 1, execEvent({}))).toEqual([]);
  });

  test("literals sharing a character pair, and non-ASCII text folded onto the same slots, are confirmed", () => {
    const gate: Gate = [{ path: ["process", "command_line"], alsoPaths: [], literals: ["ab1", "ab2", "xé"] }];
    const index = new GateIndex([gate, [{ ...gate[0], literals: ["ab2"] }]]);
    expect(openRules(index, 2, execEvent({ command_line: "zab1" }))).toEqual([0]);
    expect(openRules(index, 2, execEvent({ command_line: "ab2" }))).toEqual([0, 1]);
    // 'é' (U+00E9) folds to the slot of 'i' (0x69): the pair is found, the text is not there.
    expect(openRules(index, 2, execEvent({ command_line: "xi" }))).toEqual([]);
    expect(openRules(index, 2, execEvent({ command_line: "Xé" }))).toEqual([0]);
  });
});

describe("the default ruleset with its gates", () => {
  const runner = RuleTestRunner.load(join(__dirname, "..", "..", "..", "rules"));
  const { rules } = runner.compiled;

  /** Every test event of rules/tests, and variants that put other rules' literals in other places. */
  function corpus(): EcsDocument[] {
    const events = runner.files.flatMap(({ test }) => test.cases.flatMap((c) => c.events));
    const literals = rules.flatMap((rule) => rule.gate?.flatMap((g) => g.literals) ?? []);
    const out: EcsDocument[] = [...events];
    events.forEach((event, i) => {
      const process = (event.process ?? {}) as Record<string, unknown>;
      const literal = literals[i % literals.length];
      const other = literals[(i * 7 + 3) % literals.length];
      out.push(
        {
          ...event,
          process: { ...process, command_line: `${String(process.command_line ?? "")} ${literal}` },
        },
        { ...event, process: { ...process, executable: `/tmp/${other.toUpperCase()}` } },
        { ...event, file: { ...((event.file ?? {}) as object), path: `/x${literal}${other}` } },
        { ...event, process: { ...process, command_line: undefined } },
      );
    });
    return out;
  }

  test("the Ruleset fires exactly the rules that match when every rule is run on every event", () => {
    const documents = corpus();
    expect(documents.length).toBeGreaterThan(500);
    let fired = 0;
    for (const doc of documents) {
      const expected = rules.filter((rule) => rule.status !== "deprecated" && rule.matches(doc));
      const actual = runner.ruleset.match(doc);
      expect([...actual].map((r) => r.id).sort()).toEqual(expected.map((r) => r.id).sort());
      fired += actual.length;
    }
    // The corpus makes rules fire, so the comparison is not between empty lists.
    expect(fired).toBeGreaterThan(100);
  });

  test("almost every shipped rule has a gate (a rule without one runs on every event of its category)", () => {
    const ungated = rules.filter((rule) => rule.gate === undefined).map((rule) => rule.id);
    expect(ungated.length).toBeLessThanOrEqual(3);
  });
});
