// Sigma plain values: `*` matches any run of characters, `?` exactly one, and
// `\` escapes `*`, `?` and itself (a backslash before anything else is
// literal, so Windows-style paths need no doubling). Values are compiled once
// into the cheapest string test that does the job; a glob matcher without
// regexes handles the rest in O(n·m) time whatever the pattern.

import type { Glob, GlobSegment, StringOperator, StringPattern } from "./types";

type Token = { kind: "text"; text: string } | { kind: "star" } | { kind: "one" };

function tokenize(value: string): Token[] {
  const tokens: Token[] = [];
  let text = "";
  const flush = (): void => {
    if (text !== "") tokens.push({ kind: "text", text });
    text = "";
  };
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    if (c === "\\") {
      const next = value[i + 1];
      if (next === "*" || next === "?" || next === "\\") {
        text += next;
        i++;
      } else {
        text += c;
      }
    } else if (c === "*") {
      flush();
      // Consecutive stars mean the same as one.
      if (tokens.at(-1)?.kind !== "star") tokens.push({ kind: "star" });
    } else if (c === "?") {
      flush();
      tokens.push({ kind: "one" });
    } else {
      text += c;
    }
  }
  flush();
  return tokens;
}

/** Compiles one Sigma string value under a string operator; lower-cased unless `cased`. */
export function compileStringPattern(value: string, operator: StringOperator, cased = false): StringPattern {
  const tokens = tokenize(cased ? value : value.toLowerCase());
  const star: Token = { kind: "star" };
  if ((operator === "contains" || operator === "endswith") && tokens[0]?.kind !== "star")
    tokens.unshift(star);
  if ((operator === "contains" || operator === "startswith") && tokens.at(-1)?.kind !== "star")
    tokens.push(star);

  const leadingStar = tokens[0]?.kind === "star";
  const trailingStar = tokens.length > 1 && tokens.at(-1)?.kind === "star";
  const inner = tokens.slice(leadingStar ? 1 : 0, trailingStar ? -1 : undefined);
  if (tokens.length === 1 && leadingStar) return { kind: "any" };
  if (inner.length === 0) return { kind: "equals", text: "" };
  if (inner.length === 1 && inner[0].kind === "text") {
    const text = inner[0].text;
    if (leadingStar && trailingStar) return { kind: "contains", text };
    if (leadingStar) return { kind: "suffix", text };
    if (trailingStar) return { kind: "prefix", text };
    return { kind: "equals", text };
  }
  return { kind: "glob", glob: toGlob(tokens) };
}

function toGlob(tokens: Token[]): Glob {
  const segments: GlobSegment[] = [];
  let current: GlobSegment = { text: "", anyChar: [] };
  for (const token of tokens) {
    switch (token.kind) {
      case "text":
        current.text += token.text;
        break;
      case "one":
        current.anyChar.push(current.text.length);
        current.text += "?";
        break;
      case "star":
        segments.push(current);
        current = { text: "", anyChar: [] };
        break;
      default: {
        const unreachable: never = token;
        throw new Error(`unhandled token ${JSON.stringify(unreachable)}`);
      }
    }
  }
  segments.push(current);
  // segments[0] is anchored at the start and the last at the end unless a star
  // stands there, in which case that segment is empty.
  return {
    anchoredStart: segments[0].text !== "",
    anchoredEnd: segments.length === 1 || segments[segments.length - 1].text !== "",
    segments: segments.filter((s) => s.text !== ""),
  };
}

function segmentAt(s: string, at: number, segment: GlobSegment): boolean {
  const { text, anyChar } = segment;
  if (at + text.length > s.length) return false;
  if (anyChar.length === 0) return s.startsWith(text, at);
  for (let i = 0; i < text.length; i++) {
    if (s.charCodeAt(at + i) !== text.charCodeAt(i) && !anyChar.includes(i)) return false;
  }
  return true;
}

function findSegment(s: string, from: number, segment: GlobSegment): number {
  if (segment.anyChar.length === 0) return s.indexOf(segment.text, from);
  for (let at = from; at + segment.text.length <= s.length; at++) {
    if (segmentAt(s, at, segment)) return at;
  }
  return -1;
}

/**
 * Matches a string (in the glob's case) against a glob. Between stars, taking the
 * leftmost occurrence of each segment is always safe, so no backtracking.
 */
export function matchGlob(s: string, glob: Glob): boolean {
  const { segments, anchoredStart, anchoredEnd } = glob;
  if (segments.length === 0) return !anchoredStart && !anchoredEnd ? true : s === "";
  let first = 0;
  let last = segments.length;
  let from = 0;
  let until = s.length;
  if (anchoredStart) {
    if (!segmentAt(s, 0, segments[0])) return false;
    from = segments[0].text.length;
    first = 1;
  }
  if (anchoredEnd) {
    if (last === first && anchoredStart) return from === s.length;
    const tail = segments[last - 1];
    const at = s.length - tail.text.length;
    if (at < from || !segmentAt(s, at, tail)) return false;
    until = at;
    last -= 1;
  }
  for (let i = first; i < last; i++) {
    const at = findSegment(s, from, segments[i]);
    if (at < 0 || at + segments[i].text.length > until) return false;
    from = at + segments[i].text.length;
  }
  return true;
}

/** Tests a string, in the pattern's case, against a compiled pattern. */
export function matchPattern(lower: string, pattern: StringPattern): boolean {
  switch (pattern.kind) {
    case "equals":
      return lower === pattern.text;
    case "prefix":
      return lower.startsWith(pattern.text);
    case "suffix":
      return lower.endsWith(pattern.text);
    case "contains":
      return lower.includes(pattern.text);
    case "any":
      return true;
    case "glob":
      return matchGlob(lower, pattern.glob);
    default: {
      const unreachable: never = pattern;
      throw new Error(`unhandled pattern ${JSON.stringify(unreachable)}`);
    }
  }
}
