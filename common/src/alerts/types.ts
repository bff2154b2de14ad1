// Alerts are ECS documents (event.kind: "alert"). The same document goes to the
// SQLite store, to Elasticsearch and onto vigil.alerts.<level>.

export type EcsDocument = { [key: string]: unknown };

export const ALERT_LEVELS = ["informational", "low", "medium", "high", "critical"] as const;
export type AlertLevel = (typeof ALERT_LEVELS)[number];

/** ECS event.severity for each Sigma level. */
export const SEVERITY_BY_LEVEL: Record<AlertLevel, number> = {
  informational: 1,
  low: 21,
  medium: 47,
  high: 73,
  critical: 99,
};

export interface AlertRule {
  id: string;
  name: string;
  description: string;
  level: AlertLevel;
  author: string;
  references: string[];
  tags: string[];
  version: string;
}

export interface Alert {
  /** Deterministic: hash of rule id + source event id, so a redelivered event
   *  produces the same id and the stores keep it once. */
  id: string;
  timestampUs: number;
  level: AlertLevel;
  rule: AlertRule;
  /** ECS alert document as stored and published. */
  document: EcsDocument;
}

export interface AlertQuery {
  limit: number;
  /** Only alerts at or above this level. */
  minLevel?: AlertLevel;
  ruleId?: string;
  hostName?: string;
  /** Alerts stored after this time (µs since epoch). */
  sinceUs?: number;
}

/** Where alerts are durably written. write() resolves only once stored. */
export interface AlertSink {
  readonly name: string;
  write(alerts: Alert[]): Promise<void>;
  close(): Promise<void>;
}

export interface AlertReader {
  query(query: AlertQuery): Promise<EcsDocument[]>;
}
