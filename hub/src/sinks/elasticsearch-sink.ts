// Writes alerts to the Elasticsearch data stream vigil-alerts with _bulk create.
// The alert id is the document _id, so a redelivered alert answers 409 and counts
// as stored. Overload and outages (429, 5xx, connection errors) are retried with
// bounded backoff, then write() throws and the caller naks: an ES outage delays
// alerts, never loses them. Items ES refuses on their own merits (400 mapping
// errors) are reported in SinkWriteError.rejected after the rest are stored.

import { Client, errors } from "@elastic/elasticsearch";
import { type Alert, type AlertSink, ErrorCodes, type Logger, silentLogger, VigilError } from "@vigil/common";
import { classifyBulkItems, describeCause, isRetryableStatus } from "./bulk-items";
import {
  describeNodes,
  type ElasticsearchSinkConfig,
  elasticsearchClientOptions,
  elasticsearchSinkConfig,
} from "./elasticsearch-config";
import { ALERTS_INDEX_TEMPLATE, ALERTS_INDEX_TEMPLATE_NAME } from "./index-template";
import { backoffDelayMs, sleep } from "./retry-backoff";
import { type RejectedAlert, SinkWriteError } from "./sink-write-error";

export interface ElasticsearchSinkOptions {
  config: Partial<ElasticsearchSinkConfig>;
  logger?: Logger;
  /** Jitter source; tests pass a fixed one. */
  random?: () => number;
}

export interface ElasticsearchSinkCounters {
  stored: number;
  duplicates: number;
  retriedItems: number;
  failedRequests: number;
  rejected: number;
}

/** One alert, serialised once and resent as is on retries. */
interface Operation {
  alertId: string;
  ndjson: string;
}

/** What one _bulk attempt left to do. */
interface AttemptResult {
  retry: Operation[];
  retryReason: string | undefined;
  rejected: RejectedAlert[];
}

export class ElasticsearchSink implements AlertSink {
  readonly name = "elasticsearch";
  readonly counters: ElasticsearchSinkCounters = {
    stored: 0,
    duplicates: 0,
    retriedItems: 0,
    failedRequests: 0,
    rejected: 0,
  };
  private readonly config: ElasticsearchSinkConfig;
  private readonly client: Client;
  private readonly logger: Logger;
  private readonly random: () => number;
  private templateInstalled: Promise<void> | undefined;
  private closed = false;

  constructor(options: ElasticsearchSinkOptions) {
    this.config = elasticsearchSinkConfig(options.config);
    this.client = new Client(elasticsearchClientOptions(this.config));
    this.logger = options.logger ?? silentLogger();
    this.random = options.random ?? Math.random;
  }

  /** Installs the index template (retried like writes). write() does it too if needed. */
  async start(): Promise<void> {
    this.logger.info(
      { nodes: describeNodes(this.config), dataStream: this.config.dataStream },
      "elasticsearch alert sink starting",
    );
    await this.ensureTemplate();
  }

  async write(alerts: Alert[]): Promise<void> {
    this.assertOpen();
    if (alerts.length === 0) return;
    await this.ensureTemplate();
    const rejected: RejectedAlert[] = [];
    let pending: Operation[] = [];
    for (const alert of alerts) {
      const operation = toOperation(alert);
      if (typeof operation === "string") {
        rejected.push({ alertId: alert.id, status: 0, type: "serialization_error", reason: operation });
      } else {
        pending.push(operation);
      }
    }
    for (let attempt = 1; pending.length > 0; attempt++) {
      const result = await this.attempt(pending);
      rejected.push(...result.rejected);
      pending = result.retry;
      if (pending.length === 0) break;
      if (attempt > this.config.maxRetries) {
        throw new SinkWriteError(
          `elasticsearch: ${pending.length} of ${alerts.length} alerts not stored after ${attempt} attempts (${result.retryReason}); retry later`,
          rejected,
          [...pending.map((operation) => operation.alertId), ...rejected.map((item) => item.alertId)],
        );
      }
      this.counters.retriedItems += pending.length;
      const delayMs = backoffDelayMs(this.retryPolicy(), attempt, this.random);
      this.logger.warn(
        { attempt, delayMs, pending: pending.length, reason: result.retryReason },
        "elasticsearch write incomplete, retrying",
      );
      await sleep(delayMs);
      this.assertOpen();
    }
    if (rejected.length > 0) {
      this.counters.rejected += rejected.length;
      const detail = rejected
        .map((item) => `alert ${item.alertId}: ${item.status} ${item.reason}`)
        .join("; ");
      throw new SinkWriteError(
        `elasticsearch rejected ${rejected.length} of ${alerts.length} alerts permanently: ${detail}`,
        rejected,
        rejected.map((item) => item.alertId),
      );
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.client.close();
  }

  /** One _bulk request; whole-request failures come back as "retry everything". */
  private async attempt(operations: Operation[]): Promise<AttemptResult> {
    let response: Awaited<ReturnType<Client["bulk"]>>;
    try {
      response = await this.client.bulk({
        index: this.config.dataStream,
        // Never fall back to a plain index if the template is missing.
        require_data_stream: true,
        body: operations.map((operation) => operation.ndjson).join(""),
      });
    } catch (error) {
      this.counters.failedRequests++;
      const reason = describeRequestError(error);
      if (isRetryableRequestError(error)) return { retry: operations, retryReason: reason, rejected: [] };
      // Auth, bad URL, not Elasticsearch...: the alerts are fine, the sink is not.
      throw new SinkWriteError(
        `elasticsearch: bulk request failed: ${reason}`,
        [],
        operations.map((operation) => operation.alertId),
        { cause: error },
      );
    }
    const outcome = classifyBulkItems(
      operations.map((operation) => operation.alertId),
      response,
    );
    this.counters.stored += outcome.stored;
    this.counters.duplicates += outcome.duplicates;
    return {
      retry: outcome.retry.map((position) => operations[position] as Operation),
      retryReason: outcome.retryReason,
      rejected: outcome.rejected,
    };
  }

  private ensureTemplate(): Promise<void> {
    this.templateInstalled ??= this.installTemplate().catch((error: unknown) => {
      this.templateInstalled = undefined;
      throw error;
    });
    return this.templateInstalled;
  }

  private async installTemplate(): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.client.indices.putIndexTemplate({
          name: ALERTS_INDEX_TEMPLATE_NAME,
          ...ALERTS_INDEX_TEMPLATE,
        });
        this.logger.info({ template: ALERTS_INDEX_TEMPLATE_NAME }, "elasticsearch index template installed");
        return;
      } catch (error) {
        const reason = describeRequestError(error);
        if (!isRetryableRequestError(error) || attempt > this.config.maxRetries) {
          throw new VigilError(
            ErrorCodes.SINK_WRITE,
            `elasticsearch: cannot install index template ${ALERTS_INDEX_TEMPLATE_NAME}: ${reason}`,
            { cause: error },
          );
        }
        const delayMs = backoffDelayMs(this.retryPolicy(), attempt, this.random);
        this.logger.warn(
          { attempt, delayMs, reason },
          "elasticsearch index template not installed, retrying",
        );
        await sleep(delayMs);
        this.assertOpen();
      }
    }
  }

  private retryPolicy() {
    return { baseDelayMs: this.config.retryBaseDelayMs, maxDelayMs: this.config.retryMaxDelayMs };
  }

  private assertOpen(): void {
    if (this.closed) throw new VigilError(ErrorCodes.SINK_WRITE, "elasticsearch alert sink is closed");
  }
}

/** The two NDJSON lines of a create, or why the document cannot be sent. */
function toOperation(alert: Alert): Operation | string {
  try {
    // Data streams require @timestamp; the alert's own time is the right one.
    const document =
      alert.document["@timestamp"] === undefined
        ? { "@timestamp": new Date(Math.floor(alert.timestampUs / 1000)).toISOString(), ...alert.document }
        : alert.document;
    const action = JSON.stringify({ create: { _id: alert.id } });
    return { alertId: alert.id, ndjson: `${action}\n${JSON.stringify(document)}\n` };
  } catch (error) {
    return `document cannot be serialised to JSON: ${(error as Error).message}`;
  }
}

function isRetryableRequestError(error: unknown): boolean {
  if (error instanceof errors.ResponseError) return isRetryableStatus(error.statusCode ?? 0);
  return (
    error instanceof errors.ConnectionError ||
    error instanceof errors.TimeoutError ||
    error instanceof errors.NoLivingConnectionsError ||
    error instanceof errors.DeserializationError
  );
}

function describeRequestError(error: unknown): string {
  if (error instanceof errors.ResponseError) {
    const body = error.body as { error?: unknown } | undefined;
    const cause =
      typeof body?.error === "object" && body.error !== null ? describeCause(body.error as never) : "";
    return `${error.statusCode ?? "?"} ${cause || error.message}`;
  }
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}
