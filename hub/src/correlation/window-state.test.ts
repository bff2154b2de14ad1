import { compileRuleSources } from "./compile-rule-sources";
import type { CorrelationRule } from "./types";
import { applyToWindow, emptyWindow, type WindowInput, type WindowState } from "./window-state";

const A = "5e0c9d1a-7b6f-4c1e-8d2a-00000000000a";
const B = "5e0c9d1a-7b6f-4c1e-8d2a-00000000000b";
const C = "5e0c9d1a-7b6f-4c1e-8d2a-00000000000c";

function baseRule(id: string, name: string): string {
  return `title: ${name}
id: ${id}
name: ${name}
level: low
logsource: { product: linux, category: process_creation }
detection:
  selection: { CommandLine|contains: ${name} }
  condition: selection
`;
}

function correlationRule(section: string): CorrelationRule {
  const text = `title: window test
id: 5e0c9d1a-7b6f-4c1e-8d2a-0000000000cc
level: high
correlation:
${section
  .trim()
  .split("\n")
  .map((line) => `  ${line}`)
  .join("\n")}
`;
  const compiled = compileRuleSources(
    [baseRule(A, "alpha"), baseRule(B, "beta"), baseRule(C, "gamma"), text].map((t, i) => ({
      source: `r${i}`,
      text: t,
    })),
  );
  expect(compiled.errors).toEqual([]);
  return compiled.correlations[0];
}

function input(eventId: string, seconds: number, positions = [0], valueKey = ""): WindowInput {
  return { eventId, timestampMs: 1_000_000 + seconds * 1000, positions, valueKey };
}

/** Applies inputs one call each (as separate batches would), returning the fires' triggers in order. */
function run(rule: CorrelationRule, inputs: WindowInput[], start: WindowState = emptyWindow()) {
  let state = start;
  const triggers: string[] = [];
  for (const one of inputs) {
    const result = applyToWindow(rule, state, [one]);
    state = result.state;
    for (const fire of result.fires) triggers.push(`${fire.trigger}${fire.replay ? " (replay)" : ""}`);
  }
  return { state, triggers };
}

describe("correlation window - pure state transitions", () => {
  const eventCount = () =>
    correlationRule(`
type: event_count
rules: [alpha]
group-by: [host.name]
timespan: 60s
condition: { gte: 3 }`);

  test("correlation window - event_count fires at the third event, not before, then needs three new ones", () => {
    const rule = eventCount();
    const { triggers } = run(rule, [
      input("e1", 0),
      input("e2", 10),
      input("e3", 20),
      input("e4", 21),
      input("e5", 22),
      input("e6", 23),
    ]);
    expect(triggers).toEqual(["e3", "e6"]);
  });

  test("correlation window - events further apart than the timespan never fire", () => {
    const rule = eventCount();
    const { triggers, state } = run(rule, [
      input("e1", 0),
      input("e2", 50),
      input("e3", 100),
      input("e4", 161),
    ]);
    expect(triggers).toEqual([]);
    // Old entries leave the window: it stays small.
    expect(state.entries.map((entry) => entry[1])).toEqual(["e4"]);
    // A late event within the window counts with e4 only: two, no fire.
    expect(run(rule, [input("e5", 120)], state).triggers).toEqual([]);
  });

  test("correlation window - a redelivered event is not counted twice; a redelivered trigger replays its fire", () => {
    const rule = eventCount();
    const first = run(rule, [input("e1", 0), input("e2", 1), input("e1", 2), input("e2", 3)]);
    expect(first.triggers).toEqual([]);
    const fired = run(rule, [input("e3", 4)], first.state);
    expect(fired.triggers).toEqual(["e3"]);
    const again = applyToWindow(rule, fired.state, [input("e1", 0), input("e2", 1), input("e3", 4)]);
    expect(again.fires.map((fire) => [fire.trigger, fire.replay, fire.ids])).toEqual([
      ["e3", true, ["e1", "e2", "e3"]],
    ]);
    expect(again.changed).toBe(false);
  });

  test("correlation window - the window stays bounded however many events come", () => {
    const rule = eventCount();
    const inputs = Array.from({ length: 500 }, (_, i) => input(`e${i}`, i / 100));
    const { state, triggers } = run(rule, inputs);
    expect(triggers).toHaveLength(166);
    expect(state.entries.length).toBeLessThanOrEqual(rule.threshold * 2 + 16);
    expect(state.fires.length).toBeLessThanOrEqual(16);
  });

  test("correlation window - value_count counts distinct values", () => {
    const rule = correlationRule(`
type: value_count
rules: [alpha]
group-by: [host.name]
timespan: 5m
condition: { gte: 3, field: User }`);
    const { triggers, state } = run(rule, [
      input("e1", 0, [0], "root"),
      input("e2", 1, [0], "root"),
      input("e3", 2, [0], "alice"),
      input("e4", 3, [0], ""),
      input("e5", 4, [0], "alice"),
      input("e6", 5, [0], "bob"),
    ]);
    expect(triggers).toEqual(["e6"]);
    expect(state.fires[0]).toMatchObject({ count: 3, values: ["root", "alice", "bob"] });
  });

  test("correlation window - temporal needs every rule within the timespan, in any order", () => {
    const rule = correlationRule(`
type: temporal
rules: [alpha, beta, gamma]
group-by: [host.name]
timespan: 30s`);
    expect(
      run(rule, [input("c", 0, [2]), input("a1", 1, [0]), input("a2", 2, [0]), input("b", 3, [1])]).triggers,
    ).toEqual(["b"]);
    expect(run(rule, [input("c", 0, [2]), input("a", 1, [0]), input("b", 40, [1])]).triggers).toEqual([]);
  });

  test("correlation window - temporal_ordered needs the rules in order, by event time", () => {
    const rule = correlationRule(`
type: temporal_ordered
rules: [alpha, beta, gamma]
group-by: [host.name]
timespan: 30s`);
    expect(rule.threshold).toBe(3);
    // Out of order: gamma before alpha does not count.
    expect(run(rule, [input("c0", 0, [2]), input("a", 1, [0]), input("b", 2, [1])]).triggers).toEqual([]);
    expect(run(rule, [input("a", 1, [0]), input("b", 2, [1]), input("c", 3, [2])]).triggers).toEqual(["c"]);
    // Arrival order does not matter, event time does (two hubs may apply a group's events in any order).
    expect(run(rule, [input("c", 3, [2]), input("a", 1, [0]), input("b", 2, [1])]).triggers).toEqual(["b"]);
    // One event matching two steps does not make a sequence by itself.
    expect(run(rule, [input("ab", 1, [0, 1]), input("c", 3, [2])]).triggers).toEqual([]);
  });
});
