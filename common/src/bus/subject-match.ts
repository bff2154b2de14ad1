// NATS subject wildcards for the in-process bus, so that both buses route a
// subject to the same stream and tail: "*" matches one token, ">" the rest.

/** True when `subject` (no wildcards) is matched by `pattern`. */
export function subjectMatches(pattern: string, subject: string): boolean {
  if (pattern === subject) return true;
  const want = pattern.split(".");
  const have = subject.split(".");
  for (let i = 0; i < want.length; i++) {
    const token = want[i];
    if (token === ">") return have.length > i;
    if (i >= have.length) return false;
    if (token !== "*" && token !== have[i]) return false;
  }
  return want.length === have.length;
}

/** True when some subject could match both patterns (NATS rejects overlapping streams). */
export function subjectsOverlap(a: string, b: string): boolean {
  const left = a.split(".");
  const right = b.split(".");
  for (let i = 0; i < Math.max(left.length, right.length); i++) {
    const x = left[i];
    const y = right[i];
    if (x === ">" || y === ">") return x !== undefined && y !== undefined;
    if (x === undefined || y === undefined) return false;
    if (x !== "*" && y !== "*" && x !== y) return false;
  }
  return true;
}

/** A publishable subject: non-empty tokens, no wildcards, no whitespace. */
export function isValidPublishSubject(subject: string): boolean {
  if (subject.length === 0 || /\s/.test(subject)) return false;
  return subject.split(".").every((token) => token.length > 0 && token !== "*" && token !== ">");
}
