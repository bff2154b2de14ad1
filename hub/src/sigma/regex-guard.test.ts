import { splitInlineFlags, unsafeRegexReason } from "./regex-guard";

describe("regex-guard - catastrophic patterns", () => {
  test.each(["(a+)+", "(a*)*", "(?:a+)+b", "((ab)*c)*", "(a+){2,}", "(\\w+\\s?)*$", "(x+x+)+y", "(.*a){1,}"])(
    "refuses %s",
    (pattern) => {
      expect(unsafeRegexReason(pattern)).toMatch(/nested quantifier/);
    },
  );

  test.each([
    "(\\d{1,3}\\.){3}\\d{1,3}",
    "(foo|bar)+",
    "a+b+c*",
    "^/(usr/)?bin/(ba)?sh$",
    "[(a+)+]",
    "\\(a+\\)+",
    "/dev/(tcp|udp)/[0-9.]+/\\d+",
    "(?i)curl .*\\| *(ba)?sh",
  ])("accepts %s", (pattern) => {
    expect(unsafeRegexReason(pattern)).toBeUndefined();
  });

  test("refuses back-references", () => {
    expect(unsafeRegexReason("(a)\\1")).toMatch(/back-reference/);
    expect(unsafeRegexReason("(?<x>a)\\k<x>")).toMatch(/back-reference/);
  });

  test("leading inline flags become JavaScript flags", () => {
    expect(splitInlineFlags("(?i)abc")).toEqual({ source: "abc", flags: "i" });
    expect(splitInlineFlags("(?is)a.c")).toEqual({ source: "a.c", flags: "is" });
    expect(splitInlineFlags("a(?i)c")).toEqual({ source: "a(?i)c", flags: "" });
  });
});
