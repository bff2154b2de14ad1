// `re` values run on attacker-influenced strings (command lines, paths), so a
// pattern that can backtrack exponentially is refused when the rule compiles,
// and every tested string is cut to MAX_REGEX_INPUT characters.

/** Longest prefix of a field value a `re` pattern is tested against. */
export const MAX_REGEX_INPUT = 4096;

interface Frame {
  /** The group contains a quantifier that repeats (max > 1). */
  repeats: boolean;
}

interface Quantifier {
  length: number;
  unbounded: boolean;
  repeats: boolean;
}

/** Reads a quantifier at i (`*`, `+`, `?`, `{n}`, `{n,}`, `{n,m}`, each optionally lazy). */
function quantifierAt(pattern: string, i: number): Quantifier | undefined {
  const c = pattern[i];
  let q: Quantifier | undefined;
  if (c === "*" || c === "+") q = { length: 1, unbounded: true, repeats: true };
  else if (c === "?") q = { length: 1, unbounded: false, repeats: false };
  else if (c === "{") {
    const m = /^\{(\d+)(,(\d*))?\}/.exec(pattern.slice(i));
    if (m === null) return undefined;
    const unbounded = m[2] !== undefined && m[3] === "";
    const max = m[2] === undefined ? Number(m[1]) : unbounded ? Number.POSITIVE_INFINITY : Number(m[3]);
    q = { length: m[0].length, unbounded, repeats: max > 1 };
  }
  if (q !== undefined && (pattern[i + q.length] === "?" || pattern[i + q.length] === "+")) q.length += 1;
  return q;
}

/**
 * Returns why a pattern is unsafe, or undefined. Refuses a group repeated
 * without bound that itself contains a repetition — `(a+)+`, `(a*)*`,
 * `(?:x+y?)+`, `((ab)+c){2,}` — the shape behind catastrophic backtracking;
 * and back-references, which defeat every bound.
 */
export function unsafeRegexReason(pattern: string): string | undefined {
  const stack: Frame[] = [{ repeats: false }];
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === "\\") {
      const next = pattern[i + 1] ?? "";
      if (/[1-9]/.test(next) || (next === "k" && pattern[i + 2] === "<")) {
        return `back-reference '\\${next}' at offset ${i} is not allowed`;
      }
      i++;
      continue;
    }
    if (c === "[") {
      // Skip the character class; `]` right after `[` or `[^` is literal.
      let j = i + 1;
      if (pattern[j] === "^") j++;
      if (pattern[j] === "]") j++;
      while (j < pattern.length && pattern[j] !== "]") j += pattern[j] === "\\" ? 2 : 1;
      i = j;
      continue;
    }
    if (c === "(") {
      stack.push({ repeats: false });
      continue;
    }
    if (c === ")") {
      const group = stack.length > 1 ? stack.pop() : undefined;
      if (group === undefined) continue;
      const q = quantifierAt(pattern, i + 1);
      if (q !== undefined) {
        if (q.unbounded && group.repeats) {
          return `nested quantifier at offset ${i + 1}: a repeated group repeats again (catastrophic backtracking)`;
        }
        if (q.repeats) stack[stack.length - 1].repeats = true;
        i += q.length;
      }
      if (group.repeats) stack[stack.length - 1].repeats = true;
      continue;
    }
    const q = quantifierAt(pattern, i);
    if (q !== undefined) {
      if (q.repeats) stack[stack.length - 1].repeats = true;
      i += q.length - 1;
    }
  }
  return undefined;
}

/**
 * Splits a leading inline flag group (`(?i)`, `(?is)`) off a pattern: Sigma
 * rules use it, JavaScript only has flags outside the pattern.
 */
export function splitInlineFlags(pattern: string): { source: string; flags: string } {
  const m = /^\(\?([ims]+)\)/.exec(pattern);
  if (m === null) return { source: pattern, flags: "" };
  return { source: pattern.slice(m[0].length), flags: m[1] };
}
