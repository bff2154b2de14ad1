// Types of the Sigma rule engine: the validated rule as read from YAML, the
// intermediate forms the compiler works on, and the compiled rule the hub runs.

import type { EcsDocument, VigilError } from "@vigil/common";
import type { Gate } from "./literal-gates";

export type { EcsDocument };

/** A compiled test over a whole document. Built once per rule version, run per event. */
export type Predicate = (doc: EcsDocument) => boolean;

/** A compiled test over one scalar field value (never an array: arrays are unrolled by the caller). */
export type ValueTest = (value: unknown) => boolean;

export const RULE_LEVELS = ["informational", "low", "medium", "high", "critical"] as const;
export type RuleLevel = (typeof RULE_LEVELS)[number];

export const RULE_STATUSES = ["stable", "test", "experimental", "deprecated", "unsupported"] as const;
export type RuleStatus = (typeof RULE_STATUSES)[number];

/** Logsource categories Vigil produces events for (see logsource.ts for how each is recognised). */
export const LOGSOURCE_CATEGORIES = [
  "process_creation",
  "process_termination",
  "network_connection",
  "file_event",
  "file_access",
  "file_change",
  "file_delete",
  "file_rename",
  "dns_query",
  "driver_load",
  "process_access",
  "privilege_change",
  "kernel_integrity",
] as const;
export type LogsourceCategory = (typeof LOGSOURCE_CATEGORIES)[number];

export interface Logsource {
  product: "linux";
  category: LogsourceCategory;
  /** Informational only: Vigil reads kernel events, not log services. */
  service: string | undefined;
}

export interface Technique {
  /** ATT&CK id, upper case: "T1059" or "T1059.004". */
  id: string;
  /** Known for the techniques the default ruleset uses; undefined otherwise. */
  name: string | undefined;
}

export interface Tactic {
  /** ATT&CK id, e.g. "TA0002". */
  id: string;
  /** ATT&CK name, e.g. "Execution". */
  name: string;
  /** The Sigma tag suffix, e.g. "execution". */
  tag: string;
}

/** The rule's metadata after validation; detection is compiled separately. */
export interface RuleMetadata {
  id: string;
  title: string;
  status: RuleStatus;
  description: string;
  author: string;
  references: string[];
  tags: string[];
  techniques: Technique[];
  tactics: Tactic[];
  level: RuleLevel;
  logsource: Logsource;
  falsepositives: string[];
  /** Sigma `date` (creation), normalised to YYYY-MM-DD; undefined when not given. */
  date: string | undefined;
  /** Sigma `modified`, normalised to YYYY-MM-DD; undefined when not given. */
  modified: string | undefined;
}

// ---------------------------------------------------------------------------
// Vigil extensions (the rule's top-level `vigil:` map, rules/README.md "Vigil extensions").

/** `vigil.output`: an alert message with `{Field}` placeholders, checked when the rule compiles. */
export interface OutputTemplate {
  /** The template as written. */
  template: string;
  /** ECS paths of the placeholders, in order of first use. */
  fields: readonly string[];
  /** The message for a matched document; an absent field renders as "-", a list joined by ", ". */
  render: (doc: EcsDocument) => string;
}

/**
 * `vigil.suppress`: after an alert for a key, further matches with the same key
 * within the window are suppressed (counted, not alerted). The hub's alert stage
 * implements it; the compiler only validates and computes the key.
 */
export interface Suppression {
  /** The window as written ("10m"). */
  window: string;
  /** The window in milliseconds (1 s .. 7 d). */
  windowMs: number;
  /** The fields as written (Sigma names or ECS paths); empty means one key per rule. */
  by: readonly string[];
  /** ECS paths of `by`, same order. */
  paths: readonly string[];
  /** The suppression key of a document: the `by` values, JSON-encoded in order (absent = null). */
  key: (doc: EcsDocument) => string;
}

/** One entry of `vigil.exceptions`: a match is dropped when every field condition holds. */
export interface RuleException {
  /** Why the exception exists (shown in rule listings); "" when not given. */
  reason: string;
  /** The field keys as written, e.g. ["User", "Image|endswith"]. */
  keys: readonly string[];
  matches: Predicate;
}

export interface CompiledRule extends RuleMetadata {
  /** Where the rule came from (file path or KV key); used in error messages. */
  source: string;
  /** Shorthand for logsource.category; the Ruleset indexes on it. */
  category: LogsourceCategory;
  /** Logsource and detection together. */
  matches: Predicate;
  /** Detection only (exceptions applied): for callers that already know the document's category. */
  matchesDetection: Predicate;
  /**
   * ECS paths that must be present for the detection to match: the Ruleset skips the rule
   * for documents lacking any of them (a DestinationPort rule never runs on an exec).
   */
  requiredPaths: readonly string[];
  /**
   * Lower-cased literals of which one must occur in its field for the detection to match
   * (literal-gates.ts): the Ruleset runs the rule only on events holding one. Undefined
   * when some match needs none.
   */
  gate: Gate | undefined;
  /** `vigil.output`, when given. */
  output: OutputTemplate | undefined;
  /** `vigil.suppress`, when given. */
  suppress: Suppression | undefined;
  /** `vigil.exceptions` (already folded into matches / matchesDetection). */
  exceptions: readonly RuleException[];
}

export interface LoadResult {
  rules: CompiledRule[];
  /** One VigilError (RULE_INVALID) per rejected rule file; the others still load. */
  errors: VigilError[];
}

// ---------------------------------------------------------------------------
// Detection: field keys and values.

/** Sigma value modifiers Vigil implements (rules/README.md "Modifiers"). */
export const SUPPORTED_MODIFIERS = [
  "contains",
  "startswith",
  "endswith",
  "all",
  "cased",
  "windash",
  "base64",
  "base64offset",
  "utf16le",
  "utf16be",
  "utf16",
  "wide",
  "re",
  "i",
  "m",
  "s",
  "exists",
  "cidr",
  "gt",
  "gte",
  "lt",
  "lte",
  "fieldref",
] as const;
export type Modifier = (typeof SUPPORTED_MODIFIERS)[number];

/** How a plain (non-regex) value is anchored against the field value. */
export type StringOperator = "equals" | "contains" | "startswith" | "endswith";

export type NumericOperator = "gt" | "gte" | "lt" | "lte";

/** Text encoding applied before base64 (`utf16le`/`wide`, `utf16be`, `utf16` with a BOM). */
export type TextEncoding = "utf8" | "utf16le" | "utf16be" | "utf16";

/** Value transformations, applied in this order before wildcard parsing. */
export interface ValueTransforms {
  /** `windash`: each `-` or `/` starting a word also as `/`, `-`, en dash, em dash, horizontal bar. */
  windash: boolean;
  /** `base64` / `base64offset`, with the text encoding before it. */
  base64: { offset: boolean; encoding: TextEncoding } | undefined;
}

/** A parsed field key: `CommandLine|contains|all`. */
export interface FieldSpec {
  /** The key as written, for error messages. */
  key: string;
  /** The Sigma or ECS field name before mapping. */
  field: string;
  /** ECS path split into segments. */
  path: string[];
  /** Further paths the field reads (Image: process.exec_filename); their values join the first path's. */
  alsoPaths: string[][];
  /** What the values mean; exactly one kind per key. */
  kind: FieldMatchKind;
  /** `|all`: every listed value must match instead of any. */
  all: boolean;
  /** The rule's category (fieldref targets resolve in it). */
  category: LogsourceCategory;
  /** Rewrites Sigma values to the ECS vocabulary (Initiated: true → outbound). */
  valueMap: Readonly<Record<string, readonly string[]>> | undefined;
}

export type FieldMatchKind =
  | { kind: "string"; operator: StringOperator; cased: boolean; transforms: ValueTransforms }
  | { kind: "fieldref"; operator: StringOperator; cased: boolean }
  | { kind: "regex"; flags: string }
  | { kind: "exists" }
  | { kind: "cidr" }
  | { kind: "numeric"; operator: NumericOperator };

/** A plain value after wildcard parsing (lower-cased unless `cased`). */
export type StringPattern =
  | { kind: "equals"; text: string }
  | { kind: "prefix"; text: string }
  | { kind: "suffix"; text: string }
  | { kind: "contains"; text: string }
  | { kind: "any" }
  | { kind: "glob"; glob: Glob };

/** A wildcard pattern split at `*`; `?` positions are marked per segment. */
export interface Glob {
  anchoredStart: boolean;
  anchoredEnd: boolean;
  segments: GlobSegment[];
}

export interface GlobSegment {
  text: string;
  /** Indexes in text that are `?` (match any one character); empty when none. */
  anyChar: number[];
}

// ---------------------------------------------------------------------------
// Conditions.

export type ConditionNode =
  | { kind: "and"; children: ConditionNode[] }
  | { kind: "or"; children: ConditionNode[] }
  | { kind: "not"; child: ConditionNode }
  | { kind: "ref"; name: string }
  | { kind: "of"; quantifier: "any" | "all"; target: OfTarget };

/** `1 of selection_*` targets a name pattern; `1 of them` targets every selection. */
export type OfTarget = { kind: "them" } | { kind: "pattern"; pattern: string };
