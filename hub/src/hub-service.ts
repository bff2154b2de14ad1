import {
  type Alert,
  type AlertSink,
  alertsSubject,
  type Bus,
  type BusMessage,
  type Consumption,
  createMetricsRegistry,
  decodeBusBatch,
  defaultStreams,
  type EcsDocument,
  EVENTS_STREAM,
  ecsDocumentOf,
  ecsEventView,
  type HealthReport,
  HUB_DURABLE,
  type Logger,
  type Registry,
} from "@vigil/common";
import type { BusEventBatch } from "@vigil/proto";
import type { AlertCountUpdate, AlertDeduplicator } from "./alerts/alert-dedup";
import { type AlertingRule, buildAlert } from "./alerts/build-alert";
import type { CorrelationEngine } from "./correlation/correlation-engine";
import type { CorrelatedMatch } from "./correlation/types";
import { createHubMetrics, type HubMetrics } from "./hub-metrics";
import { SinkWriteError } from "./sinks/sink-write-error";

/** Alerts a sink refused on their own merits go here, with the reason, instead of blocking the batch forever. */
export const DEAD_LETTER_SUBJECT = "vigil.deadletter.alerts";

/** The ruleset as the hub uses it: which rules does this document fire? */
export interface RuleEvaluator {
  readonly size: number;
  /**
   * With `correlated`, matches that feed correlation rules are added to it.
   * The document may be an ecsEventView: read fields by name, keep only
   * ecsDocumentOf(document).
   */
  evaluate(document: EcsDocument, correlated?: CorrelatedMatch[]): AlertingRule[];
}

export interface HubConsumerSettings {
  maxInFlight: number;
  ackWaitMs: number;
  maxDeliver: number;
  /** Delay before a batch whose alerts could not be stored is retried. */
  retryDelayMs: number;
}

export interface HubServiceOptions {
  bus: Bus;
  rules: RuleEvaluator;
  sinks: AlertSink[];
  consumer: HubConsumerSettings;
  logger: Logger;
  /** Correlation rules' windows (state in KV); without it correlation rules never fire. */
  correlation?: CorrelationEngine;
  /** Dedup/suppression (state in KV); without it every match is an alert. */
  dedup?: AlertDeduplicator;
}

/** A sink that can raise the count of an alert it stored (dedup); the ES sink can. */
interface CountingSink extends AlertSink {
  updateCounts(updates: AlertCountUpdate[]): Promise<void>;
}

function isCountingSink(sink: AlertSink): sink is CountingSink {
  return typeof (sink as Partial<CountingSink>).updateCounts === "function";
}

/**
 * One hub instance. All instances share the durable consumer, so each batch
 * is evaluated by exactly one of them; a batch is acked only after its alerts
 * are stored in every sink and published, so a crash or a sink outage means
 * redelivery, never loss (alert ids are deterministic, so redelivery cannot
 * duplicate).
 */
export class HubService {
  readonly metricsRegistry: Registry;
  private readonly metrics: HubMetrics;
  private consumption: Consumption | undefined;
  private lastSinkError: string | undefined;

  constructor(private readonly options: HubServiceOptions) {
    this.metricsRegistry = createMetricsRegistry("vigil-hub");
    this.metrics = createHubMetrics(this.metricsRegistry);
  }

  async start(): Promise<void> {
    const { bus, consumer, logger } = this.options;
    await bus.ensureStreams(defaultStreams());
    this.consumption = await bus.consume(
      {
        stream: EVENTS_STREAM,
        durable: HUB_DURABLE,
        filterSubject: "vigil.events.>",
        maxInFlight: consumer.maxInFlight,
        ackWaitMs: consumer.ackWaitMs,
        maxDeliver: consumer.maxDeliver,
      },
      (message) => this.handle(message),
    );
    logger.info(
      { rules: this.options.rules.size, sinks: this.options.sinks.map((sink) => sink.name) },
      "hub consuming",
    );
  }

  async stop(): Promise<void> {
    await this.consumption?.stop();
    this.consumption = undefined;
  }

  health(): HealthReport {
    const busUp = this.options.bus.isHealthy();
    return {
      healthy: busUp && this.consumption !== undefined,
      checks: {
        bus: busUp ? "connected" : "disconnected",
        rules: String(this.options.rules.size),
        sinks: this.lastSinkError ? `last error: ${this.lastSinkError}` : "ok",
      },
    };
  }

  /** Evaluates one batch as decodeBusBatch returns it; exported for the benchmark and tests. */
  evaluateBatch(batch: BusEventBatch, now = new Date(), correlated?: CorrelatedMatch[]): Alert[] {
    const alerts: Alert[] = [];
    for (const event of batch.events) {
      // Rules read the fields they need; the whole document is built only for an alert.
      const view = ecsEventView(event);
      const matched = this.options.rules.evaluate(view, correlated);
      if (matched.length === 0) continue;
      const document = ecsDocumentOf(view);
      for (const rule of matched) alerts.push(buildAlert(rule, document, now));
    }
    return alerts;
  }

  private async handle(message: BusMessage): Promise<void> {
    const { logger } = this.options;
    const metrics = this.metrics;
    let batch: BusEventBatch;
    try {
      batch = decodeBusBatch(message.data);
    } catch (error) {
      metrics.batches.inc({ outcome: "poison" });
      const reason = `undecodable BusEventBatch on ${message.subject}: ${(error as Error).message}`;
      logger.error({ seq: message.seq, msgId: message.msgId }, reason);
      message.term(reason);
      return;
    }
    const stopTimer = metrics.evaluateSeconds.startTimer();
    const correlated: CorrelatedMatch[] = [];
    const alerts = this.evaluateBatch(batch, new Date(), this.options.correlation ? correlated : undefined);
    stopTimer();
    metrics.events.inc(batch.events.length);
    if (correlated.length > 0 && this.options.correlation) {
      try {
        alerts.push(...(await this.options.correlation.process(correlated, new Date())));
      } catch (error) {
        // Windows already written recognise these events when the batch comes again.
        logger.error(
          { err: error, seq: message.seq },
          "correlation state not updated; batch will be redelivered",
        );
        metrics.batches.inc({ outcome: "retried" });
        message.nak(this.options.consumer.retryDelayMs);
        return;
      }
    }
    if (alerts.length > 0) {
      const stored = await this.store(alerts, batch);
      if (!stored) {
        metrics.batches.inc({ outcome: "retried" });
        message.nak(this.options.consumer.retryDelayMs);
        return;
      }
    }
    await message.ack();
    metrics.batches.inc({ outcome: "acked" });
  }

  /**
   * When the only alerts a sink failed to store are ones it refused for good
   * (e.g. a mapping conflict), they go to the dead-letter subject and the batch
   * proceeds; anything transient still means redelivery.
   */
  private async setAsideRejected(sinkName: string, alerts: Alert[], error: unknown): Promise<boolean> {
    if (!(error instanceof SinkWriteError) || !error.permanent) return false;
    const rejectedIds = new Set(error.rejected.map((rejected) => rejected.alertId));
    if (error.unstoredIds.some((id) => !rejectedIds.has(id))) return false;
    for (const rejected of error.rejected) {
      const alert = alerts.find((candidate) => candidate.id === rejected.alertId);
      await this.options.bus.publish(
        DEAD_LETTER_SUBJECT,
        Buffer.from(
          JSON.stringify({
            sink: sinkName,
            reason: rejected.reason,
            type: rejected.type,
            alert: alert?.document,
          }),
        ),
        { msgId: `${sinkName}:${rejected.alertId}` },
      );
      this.metrics.sinkErrors.inc({ sink: sinkName });
      this.options.logger.error(
        { sink: sinkName, alertId: rejected.alertId, type: rejected.type, reason: rejected.reason },
        `alert refused by sink; set aside on ${DEAD_LETTER_SUBJECT}`,
      );
    }
    return true;
  }

  private async store(matched: Alert[], batch: BusEventBatch): Promise<boolean> {
    let alerts = matched;
    let counts: AlertCountUpdate[] = [];
    if (this.options.dedup) {
      try {
        ({ fresh: alerts, counts } = await this.options.dedup.admit(matched));
      } catch (error) {
        this.options.logger.error({ err: error }, "alert dedup state unavailable; batch will be redelivered");
        return false;
      }
    }
    for (const sink of this.options.sinks) {
      try {
        if (alerts.length > 0) await sink.write(alerts);
        if (counts.length > 0 && isCountingSink(sink)) await sink.updateCounts(counts);
      } catch (error) {
        if (await this.setAsideRejected(sink.name, alerts, error)) continue;
        this.metrics.sinkErrors.inc({ sink: sink.name });
        this.lastSinkError = `${sink.name}: ${(error as Error).message}`;
        this.options.logger.error(
          { sink: sink.name, agentId: batch.agentId, sequence: batch.sequence, err: error },
          "alert write failed; batch will be redelivered",
        );
        return false;
      }
    }
    this.lastSinkError = undefined;
    try {
      await Promise.all(
        alerts.map((alert) =>
          this.options.bus.publish(alertsSubject(alert.level), Buffer.from(JSON.stringify(alert.document)), {
            msgId: alert.id,
          }),
        ),
      );
    } catch (error) {
      this.options.logger.error({ err: error }, "alert publish failed; batch will be redelivered");
      return false;
    }
    for (const alert of alerts) {
      this.metrics.alerts.inc({ level: alert.level });
      this.options.logger.info(
        {
          alertId: alert.id,
          rule: alert.rule.name,
          level: alert.level,
          host: (alert.document.host as EcsDocument)?.name,
        },
        "alert",
      );
    }
    return true;
  }
}
