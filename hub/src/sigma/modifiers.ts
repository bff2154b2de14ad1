// Field keys: `Field|mod|mod`. Parsed and checked once so that a misspelt or
// contradictory modifier chain is a load error, not a rule that silently never
// fires. Modifiers apply left to right, as in Sigma: an encoding before
// `base64`, `base64`/`base64offset` before the string operator, `i`/`m`/`s`
// after `re`.

import { resolveField } from "./field-mapping";
import { RuleSyntaxError } from "./rule-error";
import {
  type FieldMatchKind,
  type FieldSpec,
  type LogsourceCategory,
  type Modifier,
  SUPPORTED_MODIFIERS,
  type TextEncoding,
} from "./types";

/** Sigma modifiers Vigil refuses, with why. */
const REFUSED_MODIFIERS: Readonly<Record<string, string>> = {
  expand: "placeholders (%name%) need a processing pipeline Vigil does not have",
};

const STRING_OPERATORS = ["contains", "startswith", "endswith"] as const;
const ENCODINGS = ["utf16le", "utf16be", "utf16", "wide"] as const;
const REGEX_FLAGS = ["i", "m", "s"] as const;
/** Modifiers that decide how the value is compared; at most one per key. */
const MAIN = [
  "contains",
  "startswith",
  "endswith",
  "re",
  "exists",
  "cidr",
  "gt",
  "gte",
  "lt",
  "lte",
] as const;

function isModifier(name: string): name is Modifier {
  return (SUPPORTED_MODIFIERS as readonly string[]).includes(name);
}

function among<T extends string>(list: readonly T[], m: string): m is T {
  return (list as readonly string[]).includes(m);
}

export function parseFieldKey(key: string, category: LogsourceCategory): FieldSpec {
  const [field, ...names] = key.split("|");
  if (field === "") throw new RuleSyntaxError(`'${key}': field name is empty`);
  const resolved = resolveField(field, category);
  if (!resolved.ok) throw new RuleSyntaxError(`'${key}': ${resolved.reason}`);

  const modifiers: Modifier[] = [];
  for (const name of names) {
    const refused = REFUSED_MODIFIERS[name];
    if (refused !== undefined)
      throw new RuleSyntaxError(`'${key}': modifier '${name}' is not supported: ${refused}`);
    if (!isModifier(name)) {
      throw new RuleSyntaxError(
        `'${key}': unknown modifier '${name}' (known: ${SUPPORTED_MODIFIERS.join(", ")})`,
      );
    }
    if (modifiers.includes(name)) throw new RuleSyntaxError(`'${key}': modifier '${name}' given twice`);
    modifiers.push(name);
  }
  return {
    key,
    field,
    path: resolved.mapping.path.split("."),
    alsoPaths: resolved.mapping.alsoPaths?.map((path) => path.split(".")) ?? [],
    kind: matchKind(key, modifiers),
    all: modifiers.includes("all"),
    category,
    valueMap: resolved.mapping.values,
  };
}

function matchKind(key: string, modifiers: Modifier[]): FieldMatchKind {
  const fail = (why: string): never => {
    throw new RuleSyntaxError(`'${key}': ${why}`);
  };
  const at = (m: Modifier): number => modifiers.indexOf(m);
  const main = modifiers.filter((m) => among(MAIN, m));
  if (main.length > 1) fail(`modifiers '${main.join("' and '")}' cannot be combined`);
  const head = main[0];
  const cased = modifiers.includes("cased");
  const windash = modifiers.includes("windash");
  const fieldref = modifiers.includes("fieldref");
  const base64 = modifiers.filter((m) => m === "base64" || m === "base64offset");
  const encodings = modifiers.filter((m) => among(ENCODINGS, m));
  const flags = modifiers.filter((m) => among(REGEX_FLAGS, m));

  // Regex flags are sub-modifiers of `re` and come after it.
  for (const flag of flags) {
    if (head !== "re") fail(`modifier '${flag}' is only valid after 're'`);
    if (at(flag) < at("re")) fail(`modifier '${flag}' must come after 're'`);
  }
  // Encodings only feed base64, and come before it.
  if (encodings.length > 1) fail(`modifiers '${encodings.join("' and '")}' cannot be combined`);
  if (base64.length > 1) fail("modifiers 'base64' and 'base64offset' cannot be combined");
  if (encodings.length === 1 && base64.length === 0)
    fail(`modifier '${encodings[0]}' is only valid before 'base64' or 'base64offset'`);
  if (encodings.length === 1 && at(encodings[0]) > at(base64[0]))
    fail(`modifier '${encodings[0]}' must come before '${base64[0]}'`);

  const transforms = base64.length > 0 || windash;
  const stringHead = head === undefined || among(STRING_OPERATORS, head);
  if (!stringHead) {
    const extra = [
      ...(transforms ? modifiers.filter((m) => m === "windash" || m.startsWith("base64")) : []),
      ...(cased ? ["cased"] : []),
      ...(fieldref ? ["fieldref"] : []),
    ];
    if (extra.length > 0) fail(`modifier '${extra[0]}' cannot be combined with '${head}'`);
  }
  if (base64.length === 1) {
    const b64 = base64[0];
    if (head !== undefined && at(head) < at(b64))
      fail(`'${head}' must come after '${b64}' (the encoded value is what is searched)`);
    if (b64 === "base64offset" && head !== "contains")
      fail("'base64offset' needs 'contains' after it (the encoded value sits inside a longer string)");
    if (windash) fail(`modifiers 'windash' and '${b64}' cannot be combined`);
    if (cased) fail(`modifier 'cased' is implied by '${b64}' (base64 text is always compared exactly)`);
  }
  if (fieldref && (windash || base64.length > 0))
    fail("'fieldref' compares with another field and cannot be combined with value transformations");

  switch (head) {
    case undefined:
    case "contains":
    case "startswith":
    case "endswith": {
      const operator = head ?? "equals";
      if (fieldref) return { kind: "fieldref", operator, cased };
      const encoding: TextEncoding =
        encodings[0] === undefined ? "utf8" : encodings[0] === "wide" ? "utf16le" : encodings[0];
      return {
        kind: "string",
        operator,
        // base64 text is case-sensitive: lower-casing it would match other bytes.
        cased: cased || base64.length > 0,
        transforms: {
          windash,
          base64: base64.length > 0 ? { offset: base64[0] === "base64offset", encoding } : undefined,
        },
      };
    }
    case "re":
      return { kind: "regex", flags: flags.join("") };
    case "exists":
      return { kind: "exists" };
    case "cidr":
      return { kind: "cidr" };
    case "gt":
    case "gte":
    case "lt":
    case "lte":
      return { kind: "numeric", operator: head };
    default: {
      const unreachable: never = head;
      throw new Error(`unhandled modifier ${String(unreachable)}`);
    }
  }
}
