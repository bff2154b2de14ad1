// Types of Sigma correlation rules (Sigma correlation rules specification
// 2.0): a correlation counts or orders the matches of other rules within a
// timespan, per group-by key. Parsed and validated once per ruleset version;
// the windows themselves live in NATS KV (window-state.ts).

import type { EcsDocument } from "@vigil/common";
import type { RuleLevel, RuleStatus, Tactic, Technique } from "../sigma";
import type { CorrelationIndex, CorrelationLink } from "./correlation-index";

export const CORRELATION_TYPES = ["event_count", "value_count", "temporal", "temporal_ordered"] as const;
export type CorrelationType = (typeof CORRELATION_TYPES)[number];

export const CONDITION_OPERATORS = ["gt", "gte", "lt", "lte", "eq"] as const;
export type ConditionOperator = (typeof CONDITION_OPERATORS)[number];

/** A count condition as written (`gte: 10`, or a range `gt: 100, lte: 200`). */
export type CountCondition = Partial<Record<ConditionOperator, number>>;

/** A correlation rule as read from YAML, its references not yet resolved. */
export interface ParsedCorrelation {
  id: string;
  /** Sigma `name`: how other correlations may refer to this one. */
  name: string | undefined;
  title: string;
  status: RuleStatus;
  description: string;
  author: string;
  references: string[];
  tags: string[];
  techniques: Technique[];
  tactics: Tactic[];
  falsepositives: string[];
  level: RuleLevel;
  type: CorrelationType;
  /** Referenced rules by id or name, as written. */
  rules: string[];
  groupBy: string[];
  timespanMs: number;
  condition: CountCondition;
  /** value_count: the field whose distinct values are counted. */
  field: string | undefined;
  /** alias name → (rule name or id → field) */
  aliases: Record<string, Record<string, string>>;
  /** Whether the referenced rules still alert on their own (Sigma default: no). */
  generate: boolean;
  source: string;
}

/** Where a group-by key (or the value_count field) is read in a given referenced rule's events. */
export interface ReferencedRule {
  /** The id of the base or correlation rule referenced. */
  id: string;
  kind: "base" | "correlation";
  /** ECS path of each group-by entry, in group-by order. */
  groupPaths: string[][];
  /** ECS path of the value_count field. */
  valuePath: string[] | undefined;
}

/** A correlation after validation: references resolved, condition reduced to a threshold. */
export interface CorrelationRule extends ParsedCorrelation {
  /** One per entry of `rules`, in order (temporal_ordered's order). */
  referenced: ReferencedRule[];
  /**
   * The smallest count that satisfies the condition: the window fires when its
   * count reaches it. For temporal types, the number of distinct rules needed.
   */
  threshold: number;
  /** The condition's upper bound (lt/lte/eq), checked at the moment of firing. */
  ceiling: number;
}

/** A match that feeds a correlation: a base rule fired, or a correlation this one chains on fired. */
export interface CorrelatedMatch {
  link: CorrelationLink;
  /** The ruleset version's index the match came from (chained fires are looked up in it). */
  index: CorrelationIndex;
  /** The event (for a chained correlation: the event that fired the inner one). */
  document: EcsDocument;
  /** Unique per contributing event; a redelivered event carries the same id. */
  eventId: string;
  /** Event time (ms since epoch). */
  timestampMs: number;
}
