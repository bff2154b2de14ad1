// Runs AI triage beside reporting: reports of the configured levels are
// queued as they are stored and analysed one at a time in the background;
// with `alerts` on, alerts at or above alertMinLevel are read from the
// alerts stream (a durable consumer of its own) and analysed with their
// process context. Answers (or "missing" with the reason) are stored beside
// the report / under the alert id. Nothing here blocks or fails reporting.

import {
  ALERT_LEVELS,
  ALERTS_STREAM,
  type AlertLevel,
  type Bus,
  type BusMessage,
  type Consumption,
  type EcsDocument,
  type Logger,
} from "@vigil/common";
import type { Analysis, ReportStore } from "../reports/report-store";
import type { Report } from "../reports/types";
import type { TriageClient } from "./triage-client";
import type { TriageConfig } from "./triage-config";
import { alertPayload, type PayloadPolicy, reportPayload } from "./triage-payload";

export interface TriageServiceOptions {
  client: TriageClient;
  store: ReportStore;
  config: Pick<
    TriageConfig,
    | "reportLevels"
    | "alerts"
    | "alertMinLevel"
    | "fields"
    | "redact"
    | "maxRequestBytes"
    | "timeoutMs"
    | "maxAttempts"
  >;
  logger: Logger;
}

/** Reports waiting for analysis at most; beyond it a report's analysis is marked missing at once. */
export const MAX_TRIAGE_QUEUE = 1000;
export const ALERT_TRIAGE_DURABLE = "vigil-triage-alerts";

export class TriageService {
  readonly counters = { analysed: 0, missing: 0, alerts: 0 };
  private queue: Promise<void> = Promise.resolve();
  private queued = 0;
  private consumption: Consumption | undefined;
  private readonly policy: PayloadPolicy;

  constructor(private readonly options: TriageServiceOptions) {
    this.policy = {
      fields: options.config.fields,
      redact: options.config.redact,
      maxBytes: options.config.maxRequestBytes,
    };
  }

  /** The report generator's onStored hook: queues reports of the configured levels. */
  readonly onReport = (report: Report): void => {
    if (!this.options.config.reportLevels.includes(report.level)) return;
    const start = Date.parse(report.period.start);
    if (this.queued >= MAX_TRIAGE_QUEUE) {
      this.options.logger.warn({ report: report.id }, "triage queue full: analysis marked missing");
      void this.store(report.id, () =>
        this.options.store.putAnalysis(
          report.level,
          report.scope,
          start,
          this.missing(report.id, "triage queue full"),
        ),
      );
      return;
    }
    this.queued++;
    this.queue = this.queue.then(async () => {
      this.queued--;
      const analysis = await this.options.client.analyse(report.id, reportPayload(report, this.policy));
      this.count(analysis);
      await this.store(report.id, () =>
        this.options.store.putAnalysis(report.level, report.scope, start, analysis),
      );
    });
  };

  /** Analyses one alert document (at or above alertMinLevel) and stores the answer under its id. */
  async analyseAlert(alert: EcsDocument): Promise<Analysis | undefined> {
    const id = String(((alert.event ?? {}) as EcsDocument).id ?? "");
    const level = String(((alert.vigil ?? {}) as { alert?: { level?: string } }).alert?.level ?? "");
    if (!id || !isAtLeast(level, this.options.config.alertMinLevel)) return undefined;
    const analysis = await this.options.client.analyse(`alert/${id}`, alertPayload(alert, this.policy));
    this.count(analysis);
    this.counters.alerts++;
    await this.store(`alert/${id}`, () => this.options.store.putAlertAnalysis(id, analysis));
    return analysis;
  }

  /** Reads alerts at or above alertMinLevel from the alerts stream (when `alerts` is on). */
  async start(bus: Bus): Promise<void> {
    if (!this.options.config.alerts) return;
    const { timeoutMs, maxAttempts } = this.options.config;
    const levels = ALERT_LEVELS.filter((level) => isAtLeast(level, this.options.config.alertMinLevel));
    this.consumption = await bus.consume(
      {
        stream: ALERTS_STREAM,
        durable: ALERT_TRIAGE_DURABLE,
        filterSubject: "vigil.alerts.>",
        maxInFlight: 2,
        ackWaitMs: Math.max(30_000, maxAttempts * (timeoutMs + 60_000)),
        maxDeliver: 5,
      },
      (message) => this.handle(message, levels),
    );
  }

  /** Resolves once every queued report is analysed (tests, shutdown). */
  async idle(): Promise<void> {
    let seen: Promise<void> | undefined;
    while (seen !== this.queue) {
      seen = this.queue;
      await seen;
    }
  }

  async stop(): Promise<void> {
    await this.consumption?.stop();
    this.consumption = undefined;
    await this.idle();
  }

  private async handle(message: BusMessage, levels: readonly AlertLevel[]): Promise<void> {
    const level = message.subject.split(".")[2] as AlertLevel;
    if (!levels.includes(level)) {
      await message.ack();
      return;
    }
    let alert: EcsDocument;
    try {
      alert = JSON.parse(Buffer.from(message.data).toString("utf8")) as EcsDocument;
    } catch {
      message.term("unreadable alert JSON");
      return;
    }
    // The client never throws; a failure is stored as "missing" and the alert is done.
    await this.analyseAlert(alert);
    await message.ack();
  }

  private count(analysis: Analysis): void {
    if (analysis.status === "done") this.counters.analysed++;
    else this.counters.missing++;
  }

  private missing(subject: string, reason: string): Analysis {
    return {
      subject,
      status: "missing",
      reason,
      model: this.options.client.model,
      attempts: 0,
      requestBytes: 0,
      createdAt: new Date().toISOString(),
    };
  }

  private async store(subject: string, write: () => Promise<void>): Promise<void> {
    try {
      await write();
    } catch (error) {
      this.options.logger.error({ err: error, subject }, "storing the triage analysis failed");
    }
  }
}

function isAtLeast(level: string, min: AlertLevel): boolean {
  const index = ALERT_LEVELS.indexOf(level as AlertLevel);
  return index >= 0 && index >= ALERT_LEVELS.indexOf(min);
}
