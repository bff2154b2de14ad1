// An example consumer of vigil.alerts.>: posts each alert at or above a level
// to a chat webhook (Slack-style JSON). It reads the alerts stream through a
// durable consumer of its own, so alerts published while it is down or while
// the receiver fails are delivered later, and each is acked only once posted.

import { readFileSync } from "node:fs";
import {
  ALERT_LEVELS,
  ALERTS_STREAM,
  type AlertLevel,
  type Bus,
  type BusMessage,
  type Consumption,
  type EcsDocument,
  ErrorCodes,
  type Logger,
  VigilError,
} from "@vigil/common";
import { slackMessage } from "./slack-message";
import { type PostOutcome, postJson } from "./webhook-post";

export interface WebhookSettings {
  /** Names the webhook in logs and its durable consumer (the URL is never logged). */
  name: string;
  /** Secret: chat webhooks carry their token in it. */
  url: string;
  /** Alerts below this level are not sent. */
  minLevel: AlertLevel;
  timeoutMs: number;
  /** POSTs per delivery before the alert goes back to the stream for later. */
  maxAttempts: number;
  retryBaseDelayMs: number;
  /** Alerts older than this when read (e.g. after a long outage) are skipped, not posted. */
  maxAlertAgeMs: number;
  /** PEM CA the receiver's certificate must chain to (https only). */
  caFile?: string;
  /** "Open alert" link; "{id}" becomes the alert id, "{rule}" the rule id. */
  linkTemplate?: string;
}

export interface WebhookNotifierOptions {
  bus: Bus;
  webhook: WebhookSettings;
  logger: Logger;
  /** Delay before an alert that could not be posted is read again. */
  redeliveryDelayMs?: number;
}

export interface WebhookCounters {
  delivered: number;
  /** Below minLevel or older than maxAlertAgeMs. */
  skipped: number;
  /** Refused by the receiver (4xx) or unreadable: dropped with a log line. */
  dropped: number;
  /** POSTs that failed and were tried again. */
  retries: number;
}

export class WebhookNotifier {
  readonly counters: WebhookCounters = { delivered: 0, skipped: 0, dropped: 0, retries: 0 };
  private readonly url: URL;
  private readonly ca: Buffer | undefined;
  private consumption: Consumption | undefined;
  private stopping = false;

  constructor(private readonly options: WebhookNotifierOptions) {
    const { webhook } = options;
    if (!URL.canParse(webhook.url) || !/^https?:$/.test(new URL(webhook.url).protocol)) {
      throw new VigilError(
        ErrorCodes.CONFIG_INVALID,
        `notify.webhooks[${webhook.name}].url: not an http(s) URL`,
      );
    }
    this.url = new URL(webhook.url);
    try {
      this.ca = webhook.caFile ? readFileSync(webhook.caFile) : undefined;
    } catch (error) {
      throw new VigilError(
        ErrorCodes.CONFIG_FILE,
        `notify.webhooks[${webhook.name}].caFile: cannot read ${webhook.caFile}: ${(error as Error).message}`,
      );
    }
  }

  async start(): Promise<void> {
    const { bus, webhook, logger } = this.options;
    const worstCaseMs = webhook.maxAttempts * (webhook.timeoutMs + 30_000);
    this.consumption = await bus.consume(
      {
        stream: ALERTS_STREAM,
        durable: `vigil-notify-${webhook.name}`,
        filterSubject: "vigil.alerts.>",
        maxInFlight: 8,
        ackWaitMs: Math.max(30_000, worstCaseMs),
        maxDeliver: 50,
      },
      (message) => this.handle(message),
    );
    logger.info(
      { webhook: webhook.name, host: this.url.host, minLevel: webhook.minLevel },
      "webhook notifier consuming vigil.alerts.>",
    );
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.consumption?.stop();
    this.consumption = undefined;
  }

  private async handle(message: BusMessage): Promise<void> {
    const { webhook, logger } = this.options;
    const level = message.subject.split(".")[2] as AlertLevel;
    if (!ALERT_LEVELS.includes(level)) {
      this.counters.dropped++;
      message.term(`not an alert level: ${message.subject}`);
      return;
    }
    if (ALERT_LEVELS.indexOf(level) < ALERT_LEVELS.indexOf(webhook.minLevel)) {
      this.counters.skipped++;
      await message.ack();
      return;
    }
    let alert: EcsDocument;
    try {
      alert = JSON.parse(Buffer.from(message.data).toString("utf8")) as EcsDocument;
    } catch {
      this.counters.dropped++;
      logger.error({ webhook: webhook.name, seq: message.seq }, "unreadable alert on the bus; not posted");
      message.term("unreadable alert JSON");
      return;
    }
    const event = (alert.event ?? {}) as EcsDocument;
    const created = Date.parse(String(event.created ?? alert["@timestamp"] ?? ""));
    if (Number.isFinite(created) && Date.now() - created > webhook.maxAlertAgeMs) {
      this.counters.skipped++;
      await message.ack();
      return;
    }
    const outcome = await this.post(alert, level);
    const context = { webhook: webhook.name, alertId: event.id, deliveryCount: message.deliveryCount };
    if (outcome.kind === "delivered") {
      this.counters.delivered++;
      await message.ack();
    } else if (outcome.kind === "refused") {
      this.counters.dropped++;
      logger.error({ ...context, reason: outcome.reason }, "webhook refused the alert; not retried");
      message.term(outcome.reason);
    } else {
      logger.warn({ ...context, reason: outcome.reason }, "webhook unreachable; alert will be posted later");
      message.nak(this.options.redeliveryDelayMs ?? 30_000);
    }
  }

  /** Up to maxAttempts POSTs with exponential backoff (or the receiver's Retry-After, capped). */
  private async post(alert: EcsDocument, level: AlertLevel): Promise<PostOutcome> {
    const { webhook } = this.options;
    const body = JSON.stringify(slackMessage(alert, level, this.linkFor(alert)));
    let outcome: PostOutcome = { kind: "retry", reason: "not tried", retryAfterMs: undefined };
    for (let attempt = 1; attempt <= webhook.maxAttempts && !this.stopping; attempt++) {
      outcome = await postJson({ url: this.url, body, timeoutMs: webhook.timeoutMs, ca: this.ca });
      if (outcome.kind !== "retry" || attempt === webhook.maxAttempts) return outcome;
      this.counters.retries++;
      const backoff = webhook.retryBaseDelayMs * 2 ** (attempt - 1);
      const delay = Math.min(outcome.retryAfterMs ?? backoff, 60_000);
      await new Promise((resolve) => setTimeout(resolve, delay / 2 + (Math.random() * delay) / 2));
    }
    return outcome;
  }

  private linkFor(alert: EcsDocument): string | undefined {
    const template = this.options.webhook.linkTemplate;
    if (!template) return undefined;
    const id = String(((alert.event ?? {}) as EcsDocument).id ?? "");
    const rule = String(((alert.rule ?? {}) as EcsDocument).id ?? "");
    return template.replaceAll("{id}", encodeURIComponent(id)).replaceAll("{rule}", encodeURIComponent(rule));
  }
}
