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

/** Largest page an alert search returns, whatever the caller asks for. */
export const MAX_ALERT_PAGE_SIZE = 1000;
/** Longest free-text query accepted (characters). */
export const MAX_ALERT_TEXT_LENGTH = 256;

/** One page of an analyst's alert search; every given filter must match. */
export interface AlertSearch {
  /** Page size, 1..MAX_ALERT_PAGE_SIZE. */
  size: number;
  /** Alerts at or after this time (µs since epoch). */
  sinceUs?: number;
  /** Alerts before this time (µs since epoch). */
  untilUs?: number;
  /** At or above this level. */
  minLevel?: AlertLevel;
  /** Exactly one of these levels. */
  levels?: AlertLevel[];
  hostName?: string;
  ruleId?: string;
  /** Case-insensitive substring of the rule name, message, process command line or host name. */
  text?: string;
  /** nextCursor of the previous page: the search continues with older alerts. */
  cursor?: string;
}

export interface AlertPage {
  /** Newest first (alert time, then alert id). */
  alerts: EcsDocument[];
  /** Alerts matching the filters across all pages; a lower bound when totalExact is false. */
  total: number;
  totalExact: boolean;
  /** Pass as `cursor` for the next (older) page; null when this page is the last. */
  nextCursor: string | null;
}

/** Where the API reads alerts: the SQLite store (embedded) or Elasticsearch (distributed). */
export interface AlertReader {
  search(search: AlertSearch): Promise<AlertPage>;
  /** One alert by its id (GET /api/v1/alerts/:id/context); undefined when not stored. */
  get(alertId: string): Promise<EcsDocument | undefined>;
}
