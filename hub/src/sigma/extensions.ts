// The rule's `vigil:` map: what Sigma lacks and a SOC needs (rules/README.md,
// "Vigil extensions"). Validated here, with errors naming `vigil.<key>`:
//   output:     "Reverse shell by {User} on {host.name}: {CommandLine}"
//   suppress:   { window: 10m, by: [host.name, Image] }
//   exceptions: [{ reason: "backup job", match: { User: backup, Image|endswith: /rsync } }]

import { anyOf } from "./combinators";
import { resolveField } from "./field-mapping";
import { fieldReader, isAbsent, toText } from "./field-values";
import { RuleSyntaxError } from "./rule-error";
import { compileSelection } from "./selection";
import type { EcsDocument, LogsourceCategory, OutputTemplate, RuleException, Suppression } from "./types";

export interface RuleExtensions {
  output: OutputTemplate | undefined;
  suppress: Suppression | undefined;
  exceptions: RuleException[];
}

const KEYS = ["output", "suppress", "exceptions"];
const MAX_OUTPUT_LENGTH = 2048;
const MAX_SUPPRESS_FIELDS = 8;
const MAX_EXCEPTIONS = 256;
const WINDOW_UNITS: Readonly<Record<string, number>> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const MIN_WINDOW_MS = 1000;
const MAX_WINDOW_MS = 7 * 86_400_000;

function isMap(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A field for output or suppression: a Sigma name or an ECS path, resolved in the rule's category. */
function resolvePath(field: string, where: string, category: LogsourceCategory): string[][] {
  const resolved = resolveField(field, category);
  if (!resolved.ok) throw new RuleSyntaxError(`${where}: ${resolved.reason}`);
  const { path, alsoPaths = [] } = resolved.mapping;
  return [path.split("."), ...alsoPaths.map((p) => p.split("."))];
}

function render(value: unknown): string {
  if (isAbsent(value)) return "-";
  if (Array.isArray(value)) return value.map((v) => toText(v) ?? JSON.stringify(v)).join(", ");
  return toText(value) ?? JSON.stringify(value);
}

/** `{Field}` placeholders; `{{` and `}}` are literal braces. */
export function compileOutput(raw: unknown, category: LogsourceCategory): OutputTemplate {
  if (typeof raw !== "string" || raw.trim() === "")
    throw new RuleSyntaxError("vigil.output: must be a non-empty string");
  if (raw.length > MAX_OUTPUT_LENGTH)
    throw new RuleSyntaxError(`vigil.output: longer than ${MAX_OUTPUT_LENGTH} characters`);
  const parts: (string | ((doc: EcsDocument) => string))[] = [];
  const fields: string[] = [];
  let text = "";
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i];
    if ((c === "{" || c === "}") && raw[i + 1] === c) {
      text += c;
      i++;
      continue;
    }
    if (c === "}")
      throw new RuleSyntaxError(`vigil.output: unmatched '}' at offset ${i} (write '}}' for a brace)`);
    if (c !== "{") {
      text += c;
      continue;
    }
    const end = raw.indexOf("}", i);
    if (end < 0) throw new RuleSyntaxError(`vigil.output: unclosed '{' at offset ${i}`);
    const field = raw.slice(i + 1, end).trim();
    if (field === "") throw new RuleSyntaxError(`vigil.output: empty placeholder at offset ${i}`);
    const [path, ...also] = resolvePath(field, `vigil.output: placeholder {${field}}`, category);
    const get = fieldReader(path, also).raw;
    if (text !== "") parts.push(text);
    text = "";
    parts.push((doc) => render(get(doc)));
    const dotted = path.join(".");
    if (!fields.includes(dotted)) fields.push(dotted);
    i = end;
  }
  if (text !== "") parts.push(text);
  return {
    template: raw,
    fields,
    render: (doc) => {
      let out = "";
      for (const part of parts) out += typeof part === "string" ? part : part(doc);
      return out;
    },
  };
}

/** `10m`, `30s`, `2h`, `1d`: between one second and seven days. */
export function parseWindow(raw: unknown, where: string): number {
  const m = typeof raw === "string" ? /^(\d+)([smhd])$/.exec(raw) : null;
  if (m === null)
    throw new RuleSyntaxError(`${where}: '${String(raw)}' is not a duration like 30s, 10m, 2h or 1d`);
  const ms = Number(m[1]) * WINDOW_UNITS[m[2]];
  if (ms < MIN_WINDOW_MS || ms > MAX_WINDOW_MS)
    throw new RuleSyntaxError(`${where}: '${raw}' is outside 1s..7d`);
  return ms;
}

export function compileSuppression(raw: unknown, category: LogsourceCategory): Suppression {
  if (!isMap(raw)) throw new RuleSyntaxError("vigil.suppress: must be a map with window and by");
  const unknown = Object.keys(raw).find((k) => k !== "window" && k !== "by");
  if (unknown !== undefined) throw new RuleSyntaxError(`vigil.suppress.${unknown}: unknown key (window, by)`);
  const window = raw.window;
  const windowMs = parseWindow(window, "vigil.suppress.window");
  const byRaw = raw.by ?? [];
  const by = typeof byRaw === "string" ? [byRaw] : byRaw;
  if (!Array.isArray(by) || by.some((f) => typeof f !== "string"))
    throw new RuleSyntaxError("vigil.suppress.by: must be a field name or a list of field names");
  if (by.length > MAX_SUPPRESS_FIELDS)
    throw new RuleSyntaxError(`vigil.suppress.by: at most ${MAX_SUPPRESS_FIELDS} fields`);
  const resolved = (by as string[]).map((field, i) =>
    resolvePath(field, `vigil.suppress.by[${i}]`, category),
  );
  const getters = resolved.map(([path, ...also]) => fieldReader(path, also).raw);
  return {
    window: String(window),
    windowMs,
    by: by as string[],
    paths: resolved.map(([path]) => path.join(".")),
    key: (doc) => JSON.stringify(getters.map((get) => get(doc) ?? null)),
  };
}

export function compileExceptions(raw: unknown, category: LogsourceCategory): RuleException[] {
  if (!Array.isArray(raw) || raw.length === 0)
    throw new RuleSyntaxError("vigil.exceptions: must be a non-empty list of { reason, match }");
  if (raw.length > MAX_EXCEPTIONS) throw new RuleSyntaxError(`vigil.exceptions: at most ${MAX_EXCEPTIONS}`);
  return raw.map((item, i) => {
    const where = `vigil.exceptions[${i}]`;
    if (!isMap(item)) throw new RuleSyntaxError(`${where}: must be a map with match (and reason)`);
    const unknown = Object.keys(item).find((k) => k !== "reason" && k !== "match");
    if (unknown !== undefined) throw new RuleSyntaxError(`${where}.${unknown}: unknown key (reason, match)`);
    if (item.reason !== undefined && typeof item.reason !== "string")
      throw new RuleSyntaxError(`${where}.reason: must be a string`);
    if (!isMap(item.match) || Object.keys(item.match).length === 0)
      throw new RuleSyntaxError(`${where}.match: must be a map of field conditions, as in a selection`);
    let matches: RuleException["matches"];
    try {
      matches = compileSelection("match", item.match, category);
    } catch (error) {
      if (error instanceof RuleSyntaxError)
        throw new RuleSyntaxError(error.message.replace(/^detection\.match: /, `${where}.match: `));
      throw error;
    }
    return { reason: (item.reason as string | undefined) ?? "", keys: Object.keys(item.match), matches };
  });
}

/** Reads the rule's `vigil:` map (absent: no extensions). */
export function compileExtensions(raw: unknown, category: LogsourceCategory): RuleExtensions {
  if (raw === undefined || raw === null) return { output: undefined, suppress: undefined, exceptions: [] };
  if (!isMap(raw)) throw new RuleSyntaxError("vigil: must be a map (output, suppress, exceptions)");
  const unknown = Object.keys(raw).find((k) => !KEYS.includes(k));
  if (unknown !== undefined) throw new RuleSyntaxError(`vigil.${unknown}: unknown key (${KEYS.join(", ")})`);
  return {
    output: raw.output === undefined ? undefined : compileOutput(raw.output, category),
    suppress: raw.suppress === undefined ? undefined : compileSuppression(raw.suppress, category),
    exceptions: raw.exceptions === undefined ? [] : compileExceptions(raw.exceptions, category),
  };
}

/** The detection with the exceptions applied: a match is dropped when any exception holds. */
export function withExceptions(
  detection: (doc: EcsDocument) => boolean,
  exceptions: readonly RuleException[],
): (doc: EcsDocument) => boolean {
  if (exceptions.length === 0) return detection;
  const excepted = anyOf(exceptions.map((e) => e.matches));
  return (doc) => detection(doc) && !excepted(doc);
}
