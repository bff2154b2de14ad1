// Field keys: `Field|mod|mod`. Parsed and checked once so that a misspelt or
// contradictory modifier is a load error, not a rule that silently never fires.

import { resolveField } from "./field-mapping";
import { RuleSyntaxError } from "./rule-error";
import {
  type FieldMatchKind,
  type FieldSpec,
  type LogsourceCategory,
  type Modifier,
  SUPPORTED_MODIFIERS,
} from "./types";

/** Sigma modifiers Vigil knows but does not implement (Windows or encoding specific). */
const UNSUPPORTED_MODIFIERS = new Set([
  "windash",
  "base64",
  "base64offset",
  "utf16",
  "utf16le",
  "utf16be",
  "wide",
  "expand",
  "fieldref",
  "cased",
]);

function isModifier(name: string): name is Modifier {
  return (SUPPORTED_MODIFIERS as readonly string[]).includes(name);
}

export function parseFieldKey(key: string, category: LogsourceCategory): FieldSpec {
  const [field, ...names] = key.split("|");
  if (field === "") throw new RuleSyntaxError(`'${key}': field name is empty`);
  const resolved = resolveField(field, category);
  if (!resolved.ok) throw new RuleSyntaxError(`'${key}': ${resolved.reason}`);

  const modifiers: Modifier[] = [];
  for (const name of names) {
    if (UNSUPPORTED_MODIFIERS.has(name))
      throw new RuleSyntaxError(`'${key}': modifier '${name}' is not supported by Vigil`);
    if (!isModifier(name)) throw new RuleSyntaxError(`'${key}': unknown modifier '${name}'`);
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
    valueMap: resolved.mapping.values,
  };
}

type RegexFlag = "i" | "m" | "s";
type MainModifier = Exclude<Modifier, "all" | RegexFlag>;

function isRegexFlag(m: Modifier): m is RegexFlag {
  return m === "i" || m === "m" || m === "s";
}

function isMain(m: Modifier): m is MainModifier {
  return m !== "all" && !isRegexFlag(m);
}

function matchKind(key: string, modifiers: Modifier[]): FieldMatchKind {
  const main = modifiers.filter(isMain);
  const flags = modifiers.filter(isRegexFlag);
  if (main.length > 1) {
    throw new RuleSyntaxError(`'${key}': modifiers '${main.join("' and '")}' cannot be combined`);
  }
  const head = main[0];
  if (flags.length > 0 && head !== "re") {
    throw new RuleSyntaxError(`'${key}': modifier '${flags[0]}' is only valid after 're'`);
  }
  if (head === undefined) return { kind: "string", operator: "equals" };
  switch (head) {
    case "contains":
    case "startswith":
    case "endswith":
      return { kind: "string", operator: head };
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
