import { parseCondition } from "./condition-parser";

describe("condition-parser - grammar", () => {
  test("not binds tighter than and, and tighter than or", () => {
    expect(parseCondition("a or b and not c")).toEqual({
      kind: "or",
      children: [
        { kind: "ref", name: "a" },
        {
          kind: "and",
          children: [
            { kind: "ref", name: "b" },
            { kind: "not", child: { kind: "ref", name: "c" } },
          ],
        },
      ],
    });
  });

  test("parentheses override precedence", () => {
    expect(parseCondition("(a or b) and c")).toEqual({
      kind: "and",
      children: [
        {
          kind: "or",
          children: [
            { kind: "ref", name: "a" },
            { kind: "ref", name: "b" },
          ],
        },
        { kind: "ref", name: "c" },
      ],
    });
  });

  test("quantified selections", () => {
    expect(parseCondition("1 of selection_* and not all of filter_*")).toEqual({
      kind: "and",
      children: [
        { kind: "of", quantifier: "any", target: { kind: "pattern", pattern: "selection_*" } },
        {
          kind: "not",
          child: { kind: "of", quantifier: "all", target: { kind: "pattern", pattern: "filter_*" } },
        },
      ],
    });
    expect(parseCondition("all of them")).toEqual({
      kind: "of",
      quantifier: "all",
      target: { kind: "them" },
    });
    expect(parseCondition("1 of them")).toEqual({ kind: "of", quantifier: "any", target: { kind: "them" } });
  });

  test("not not and chained operators", () => {
    expect(parseCondition("not not a")).toEqual({
      kind: "not",
      child: { kind: "not", child: { kind: "ref", name: "a" } },
    });
    expect(parseCondition("a and b and c")).toEqual({
      kind: "and",
      children: [
        { kind: "ref", name: "a" },
        { kind: "ref", name: "b" },
        { kind: "ref", name: "c" },
      ],
    });
  });

  test.each([
    ["", /empty/],
    ["a and", /expected a selection at the end/],
    ["(a or b", /expected '\)'/],
    ["a b", /unexpected 'b' at offset 2/],
    ["1 selection", /expected 'of'/],
    ["all of", /expected a selection name pattern or 'them'/],
    ["selection*", /needs '1 of' or 'all of'/],
    ["selection | count() > 5", /aggregations/],
    ["a & b", /unexpected '&'/],
    [")", /unexpected '\)'/],
  ])("rejects %j", (condition, message) => {
    expect(() => parseCondition(condition)).toThrow(message);
  });
});
