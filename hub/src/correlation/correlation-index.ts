// Per ruleset version: which correlations each rule feeds, and which rules
// stay silent on their own (Sigma: a rule a correlation refers to alerts only
// through the correlation, unless the correlation says `generate: true`).

import type { EcsDocument } from "@vigil/common";
import type { AlertingRule } from "../alerts/build-alert";
import { definitionHash } from "./correlation-bucket";
import type { CorrelatedMatch, CorrelationRule } from "./types";

export interface CorrelationLink {
  correlation: CorrelationRule;
  /** Positions the feeding rule holds in correlation.referenced. */
  positions: number[];
  /** The correlation as its alerts show it. */
  alerting: AlertingRule;
  /** See correlation-bucket.ts: part of every window key. */
  definition: string;
}

export class CorrelationIndex {
  private readonly links = new Map<string, CorrelationLink[]>();
  private readonly silenced = new Set<string>();
  readonly size: number;

  constructor(correlations: readonly CorrelationRule[], version: string) {
    const generating = new Set<string>();
    for (const correlation of correlations) {
      const alerting: AlertingRule = {
        id: correlation.id,
        name: correlation.title,
        description: correlation.description,
        level: correlation.level,
        author: correlation.author,
        references: correlation.references,
        tags: correlation.tags,
        version,
        techniques: correlation.techniques,
        tactics: correlation.tactics,
      };
      const definition = definitionHash(correlation);
      const positions = new Map<string, number[]>();
      correlation.referenced.forEach((reference, position) => {
        positions.set(reference.id, [...(positions.get(reference.id) ?? []), position]);
      });
      for (const [ruleId, at] of positions) {
        const list = this.links.get(ruleId) ?? [];
        list.push({ correlation, positions: at, alerting, definition });
        this.links.set(ruleId, list);
        if (correlation.generate) generating.add(ruleId);
      }
    }
    for (const ruleId of this.links.keys()) if (!generating.has(ruleId)) this.silenced.add(ruleId);
    this.size = correlations.length;
  }

  /** The correlations a rule's matches (or a correlation's fires) feed; undefined when none. */
  linksOf(ruleId: string): readonly CorrelationLink[] | undefined {
    return this.links.get(ruleId);
  }

  /** True when the rule alerts only through the correlations that refer to it. */
  silences(ruleId: string): boolean {
    return this.silenced.has(ruleId);
  }

  /** Adds one CorrelatedMatch per correlation the rule feeds. */
  collect(
    ruleId: string,
    document: EcsDocument,
    eventId: string,
    timestampMs: number,
    out: CorrelatedMatch[],
  ): void {
    const links = this.links.get(ruleId);
    if (links === undefined) return;
    for (const link of links) out.push({ link, index: this, document, eventId, timestampMs });
  }
}
