// Sigma's value-transforming modifiers, applied to a rule value once at
// compile time: `windash` and `base64` / `base64offset` (with an optional
// UTF-16 encoding first). Each turns one value into the list of its variants,
// any of which may match.

import { RuleSyntaxError } from "./rule-error";
import type { TextEncoding, ValueTransforms } from "./types";

/** The characters a command-line flag may start with (pySigma's windash set). */
export const WINDASH_CHARACTERS = ["-", "/", "\u2013", "\u2014", "\u2015"] as const;

/** 5^4 variants; a value with more flag characters is refused rather than exploding. */
const MAX_WINDASH_POSITIONS = 4;

/** A `-` or `/` that starts a word: not after a word character, followed by one (pySigma: `\B[-/]\b`). */
function windashPositions(value: string): number[] {
  const word = /[A-Za-z0-9_]/;
  const out: number[] = [];
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    if (c !== "-" && c !== "/") continue;
    const before = i > 0 && word.test(value[i - 1]);
    const after = i + 1 < value.length && word.test(value[i + 1]);
    if (!before && after) out.push(i);
  }
  return out;
}

/** Every permutation of the flag characters at the word-starting dashes and slashes. */
export function windashVariants(value: string, key: string): string[] {
  const positions = windashPositions(value);
  if (positions.length > MAX_WINDASH_POSITIONS) {
    throw new RuleSyntaxError(
      `'${key}': '${value}' has ${positions.length} flags for 'windash' (at most ${MAX_WINDASH_POSITIONS}); split the value`,
    );
  }
  let variants = [value];
  for (const position of positions) {
    variants = variants.flatMap((v) =>
      WINDASH_CHARACTERS.map((c) => v.slice(0, position) + c + v.slice(position + 1)),
    );
  }
  return variants;
}

/** The literal text of a value for encoding: escapes resolved, wildcards refused (they cannot be encoded). */
function literalText(value: string, key: string): string {
  let out = "";
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    if (c === "\\" && (value[i + 1] === "*" || value[i + 1] === "?" || value[i + 1] === "\\")) {
      out += value[++i];
    } else if (c === "*" || c === "?") {
      throw new RuleSyntaxError(`'${key}': wildcard '${c}' in '${value}' cannot be base64-encoded`);
    } else {
      out += c;
    }
  }
  return out;
}

function encode(text: string, encoding: TextEncoding): Buffer {
  switch (encoding) {
    case "utf8":
      return Buffer.from(text, "utf8");
    case "utf16le":
      return Buffer.from(text, "utf16le");
    case "utf16be":
      return Buffer.from(text, "utf16le").swap16();
    case "utf16":
      // Python's "utf-16" (what pySigma uses): a little-endian BOM, then UTF-16LE.
      return Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, "utf16le")]);
    default: {
      const unreachable: never = encoding;
      throw new Error(`unhandled encoding ${String(unreachable)}`);
    }
  }
}

/**
 * `base64offset`: the value may sit at any byte offset of the encoded string, so
 * three variants, each without the leading and trailing characters that depend
 * on the neighbouring bytes (the Sigma specification's start offsets 0, 2, 3 and
 * end offsets none, -3, -2 chosen by (length + shift) mod 3).
 */
function base64OffsetVariants(bytes: Buffer): string[] {
  const starts = [0, 2, 3];
  const ends = [undefined, -3, -2];
  const out: string[] = [];
  for (let shift = 0; shift < 3; shift++) {
    const shifted = Buffer.concat([Buffer.alloc(shift, 0x20), bytes]);
    const encoded = shifted.toString("base64");
    const variant = encoded.slice(starts[shift], ends[(bytes.length + shift) % 3]);
    if (variant !== "" && !out.includes(variant)) out.push(variant);
  }
  return out;
}

/** The variants of one rule value under the key's transforms (the value itself when none). */
export function transformValue(value: string, transforms: ValueTransforms, key: string): string[] {
  const variants = transforms.windash ? windashVariants(value, key) : [value];
  const base64 = transforms.base64;
  if (base64 === undefined) return variants;
  const bytes = encode(literalText(value, key), base64.encoding);
  if (bytes.length === 0) throw new RuleSyntaxError(`'${key}': an empty value cannot be base64-encoded`);
  return base64.offset ? base64OffsetVariants(bytes) : [bytes.toString("base64")];
}
