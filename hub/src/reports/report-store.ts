// Where reports and their analyses are kept: files (embedded mode) or the
// Elasticsearch index vigil-reports (distributed). Both answer the same
// questions, so the generator, the scheduler and the API use either.

import type { ReportLevel } from "./periods";
import type { Report, ReportSummary } from "./types";

/** An AI triage answer stored beside its report (or alert). */
export interface Analysis {
  /** What was analysed: a report id, or "alert/<alert id>". */
  subject: string;
  status: "done" | "missing";
  /** The model's summary and findings (status done). */
  summary?: string;
  findings?: Array<{ category: string; severity: string; description: string; evidence: string[] }>;
  /** Why there is no analysis (status missing): the last failure, never request content. */
  reason?: string;
  model: string;
  attempts: number;
  /** Bytes of the request body sent (the last attempt). */
  requestBytes: number;
  createdAt: string;
}

export interface ReportListQuery {
  level?: ReportLevel;
  scope?: string;
  /** Reports whose period starts at or after this (ms). */
  fromMs?: number;
  /** Reports whose period starts before this (ms). */
  toMs?: number;
  /** Newest period first; at most this many. */
  limit: number;
}

export interface ReportStore {
  readonly name: string;
  put(report: Report): Promise<void>;
  get(level: ReportLevel, scope: string, startMs: number): Promise<Report | undefined>;
  /** Scopes that have a report of `level` starting in [fromMs, toMs). */
  scopes(level: ReportLevel, fromMs: number, toMs: number): Promise<string[]>;
  list(query: ReportListQuery): Promise<ReportSummary[]>;
  putAnalysis(level: ReportLevel, scope: string, startMs: number, analysis: Analysis): Promise<void>;
  getAnalysis(level: ReportLevel, scope: string, startMs: number): Promise<Analysis | undefined>;
  /** An alert's analysis, under its alert id (event.id of the alert). */
  putAlertAnalysis(alertId: string, analysis: Analysis): Promise<void>;
  getAlertAnalysis(alertId: string): Promise<Analysis | undefined>;
  close(): Promise<void>;
}

/** Largest listing page. */
export const MAX_REPORT_LIST = 1000;
/** A scope as the API and stores accept it: "fleet" or "host:<host.id>" (printable, bounded). */
export const SCOPE_PATTERN = /^(fleet|host:[^\s/\\]{1,256})$/;
/** Alert ids as the hub makes them (base64url), bounded. */
export const ALERT_ID_PATTERN = /^[A-Za-z0-9_-]{1,128}$/;
