// `re` values run on attacker-influenced strings (command lines, paths), so
// they never run on V8's backtracking engine: every pattern is compiled by
// re2js, a pure-JavaScript port of RE2 whose matching time is linear in the
// input whatever the pattern (no native build, unlike the `re2` addon). RE2
// has no back-references or look-around; a pattern using them is refused with
// RE2's reason. Since RE2 in JavaScript costs about 1 µs per test, a literal
// every match must contain is extracted when the rule compiles and checked
// first with `includes` on the lower-cased value the other rules share.

import { RE2JS } from "re2js";

/** Longest prefix of a field value a `re` pattern is tested against (the cost stays linear and bounded). */
export const MAX_REGEX_INPUT = 65_536;

/** Longest pattern accepted; Sigma regexes are a few hundred characters. */
export const MAX_REGEX_LENGTH = 4096;

export interface GuardedRegex {
  /** Tests a field value (case as in the event). */
  test: (text: string) => boolean;
  /** Lower-case ASCII text every match contains, or undefined when none could be proven. */
  literal: string | undefined;
}

/** Thrown for a pattern that cannot run safely; the message is the reason. */
export class UnsafeRegexError extends Error {}

function re2Flags(flags: string): number {
  let out = 0;
  if (flags.includes("i")) out |= RE2JS.CASE_INSENSITIVE;
  if (flags.includes("m")) out |= RE2JS.MULTILINE;
  if (flags.includes("s")) out |= RE2JS.DOTALL;
  return out;
}

/** Compiles a Sigma `re` value with its `i`/`m`/`s` sub-modifiers; throws UnsafeRegexError. */
export function compileGuardedRegex(pattern: string, flags: string): GuardedRegex {
  if (pattern.length > MAX_REGEX_LENGTH)
    throw new UnsafeRegexError(`pattern longer than ${MAX_REGEX_LENGTH} characters`);
  let re: RE2JS;
  try {
    re = RE2JS.compile(pattern, re2Flags(flags));
  } catch (error) {
    const reason = (error as Error).message.replace(/^error parsing regexp: /, "");
    throw new UnsafeRegexError(
      `${reason} (Vigil runs 're' on RE2, a linear-time engine: no back-references, look-around or possessive quantifiers)`,
    );
  }
  return {
    test: (text) => re.test(text.length > MAX_REGEX_INPUT ? text.slice(0, MAX_REGEX_INPUT) : text),
    literal: requiredLiteral(pattern),
  };
}

/** Why a pattern is refused, or undefined when it compiles. */
export function unsafeRegexReason(pattern: string, flags = ""): string | undefined {
  try {
    compileGuardedRegex(pattern, flags);
    return undefined;
  } catch (error) {
    if (error instanceof UnsafeRegexError) return error.message;
    throw error;
  }
}

const WORD = /[A-Za-z0-9]/;

/** Index just past a `[...]` class starting at i (`]` first is literal, `[:name:]` nests). */
function skipClass(p: string, i: number): number {
  let j = i + 1;
  if (p[j] === "^") j++;
  if (p[j] === "]") j++;
  while (j < p.length && p[j] !== "]") {
    if (p[j] === "\\") j += 2;
    else if (p[j] === "[" && p[j + 1] === ":") {
      const end = p.indexOf(":]", j + 2);
      j = end < 0 ? p.length : end + 2;
    } else j++;
  }
  return j + 1;
}

/** Index just past the group starting at i. */
function skipGroup(p: string, i: number): number {
  let depth = 0;
  let j = i;
  while (j < p.length) {
    const c = p[j];
    if (c === "\\") j += 2;
    else if (c === "[") j = skipClass(p, j);
    else {
      if (c === "(") depth++;
      else if (c === ")" && --depth === 0) return j + 1;
      j++;
    }
  }
  return j;
}

/** Index just past an escape at i (`\d`, `\x41`, `\x{263a}`, `\pL`, `\p{Greek}`, `\012`). */
function skipEscape(p: string, i: number): number {
  const next = p[i + 1] ?? "";
  if (next === "x" || next === "p" || next === "P") {
    if (p[i + 2] === "{") {
      const end = p.indexOf("}", i + 3);
      return end < 0 ? p.length : end + 1;
    }
    return i + (next === "x" ? 4 : 3);
  }
  if (/[0-7]/.test(next)) {
    let j = i + 1;
    while (j < p.length && j < i + 4 && /[0-7]/.test(p[j])) j++;
    return j;
  }
  return i + 2;
}

/**
 * A lower-case ASCII run of literal characters every match contains: read at the
 * top level only (groups and classes break a run), nothing when the top level has
 * an alternation, and a character made optional by `?`, `*` or `{0,…}` is left out.
 */
export function requiredLiteral(pattern: string): string | undefined {
  if (pattern.includes("\\Q")) return undefined;
  const runs: string[] = [];
  let run = "";
  const cut = (): void => {
    if (run !== "") runs.push(run);
    run = "";
  };
  let i = 0;
  while (i < pattern.length) {
    const c = pattern[i];
    let literal: string | undefined;
    let next: number;
    if (c === "|") return undefined;
    if (c === ")") return undefined;
    if (c === "\\") {
      const escaped = pattern[i + 1] ?? "";
      if (escaped !== "" && !WORD.test(escaped) && escaped.charCodeAt(0) < 128) literal = escaped;
      next = skipEscape(pattern, i);
    } else if (c === "[") next = skipClass(pattern, i);
    else if (c === "(") next = skipGroup(pattern, i);
    else {
      if (c !== "." && c !== "^" && c !== "$" && c.charCodeAt(0) < 128 && c.charCodeAt(0) >= 32) literal = c;
      next = i + 1;
    }
    // A quantifier after the atom.
    const q = pattern[next];
    let optional = false;
    let repeated = false;
    if (q === "*" || q === "?") optional = true;
    else if (q === "+") repeated = true;
    else if (q === "{") {
      const m = /^\{(\d+)(,\d*)?\}/.exec(pattern.slice(next));
      if (m !== null) {
        if (Number(m[1]) === 0) optional = true;
        else repeated = true;
        next += m[0].length - 1;
      }
    }
    if (optional || repeated) {
      next += 1;
      if (pattern[next] === "?" || pattern[next] === "+") next += 1;
    }
    if (literal === undefined || optional) cut();
    else {
      run += literal.toLowerCase();
      if (repeated) cut();
    }
    i = next;
  }
  cut();
  const longest = runs.reduce((best, r) => (r.length > best.length ? r : best), "");
  return longest.length >= 2 ? longest : undefined;
}
