// Writes alerts to the Elasticsearch data stream vigil-alerts with _bulk create.
// The alert id is the document _id, so a redelivered alert answers 409 and counts
// as stored. Overload and outages (429, 5xx, connection errors) are retried with
// bounded backoff, then write() throws and the caller naks: an ES outage delays
// alerts, never loses them. Items ES refuses on their own merits (400 mapping
// errors) are reported in SinkWriteError.rejected after the rest are stored.

import { Client, errors, type estypes } from "@elastic/elasticsearch";
import { type Alert, type AlertSink, ErrorCodes, type Logger, silentLogger, VigilError } from "@vigil/common";
import type { AlertCountUpdate } from "../alerts/alert-dedup";
import { chunkOperations, mapWithConcurrency } from "./bulk-batches";
import { classifyBulkItems, describeCause, isRetryableStatus } from "./bulk-items";
import {
  describeNodes,
  type ElasticsearchSinkConfig,
  elasticsearchClientOptions,
  elasticsearchSinkConfig,
} from "./elasticsearch-config";
import {
  ALERTS_DATA_STREAM,
  ALERTS_INDEX_TEMPLATE_NAME,
  type AlertsRetention,
  alertsIndexTemplate,
} from "./index-template";
import { backoffDelayMs, sleep } from "./retry-backoff";
import { type RejectedAlert, SinkWriteError } from "./sink-write-error";

export interface ElasticsearchSinkOptions {
  config: Partial<ElasticsearchSinkConfig>;
  logger?: Logger;
  /** Jitter source; tests pass a fixed one. */
  random?: () => number;
  /**
   * The data stream family this sink writes (default the alerts'): its index
   * template and the prefix its data stream names must start with. The events
   * writer passes vigil-events' own.
   */
  family?: DataStreamFamily;
}

/** A data stream with its own index template, written through the same bulk/retry machinery. */
export interface DataStreamFamily {
  /** What one document is, in logs and errors ("alert", "event"). */
  noun: string;
  /** Data stream names must start with this (the template's pattern). */
  dataStreamPrefix: string;
  templateName: string;
  template(retention: AlertsRetention): Omit<estypes.IndicesPutIndexTemplateRequest, "name">;
}

const ALERTS_FAMILY: DataStreamFamily = {
  noun: "alert",
  dataStreamPrefix: ALERTS_DATA_STREAM,
  templateName: ALERTS_INDEX_TEMPLATE_NAME,
  template: alertsIndexTemplate,
};

/** What the sink needs of a document: its _id, its time and the document itself (an Alert is one). */
export type StorableDocument = Pick<Alert, "id" | "timestampUs" | "document">;

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
  private readonly family: DataStreamFamily;
  private templateInstalled: Promise<void> | undefined;
  private closed = false;

  constructor(options: ElasticsearchSinkOptions) {
    this.family = options.family ?? ALERTS_FAMILY;
    this.config = elasticsearchSinkConfig(options.config, this.family.dataStreamPrefix);
    this.client = new Client(elasticsearchClientOptions(this.config));
    this.logger = options.logger ?? silentLogger();
    this.random = options.random ?? Math.random;
  }

  /** Installs the index template (retried like writes). write() does it too if needed. */
  async start(): Promise<void> {
    this.logger.info(
      { nodes: describeNodes(this.config), dataStream: this.config.dataStream },
      `elasticsearch ${this.family.noun} sink starting`,
    );
    await this.ensureTemplate();
  }

  /**
   * Stores the alerts, in _bulk requests of at most maxBatchItems/maxBatchBytes
   * with at most maxConcurrentRequests in flight. Resolves once every alert is
   * stored (or was already); throws SinkWriteError naming what is not.
   */
  async write(alerts: readonly StorableDocument[]): Promise<void> {
    this.assertOpen();
    if (alerts.length === 0) return;
    await this.ensureTemplate();
    const rejected: RejectedAlert[] = [];
    const operations: Operation[] = [];
    for (const alert of alerts) {
      const operation = toOperation(alert);
      if (typeof operation === "string") {
        rejected.push({ alertId: alert.id, status: 0, type: "serialization_error", reason: operation });
      } else {
        operations.push(operation);
      }
    }
    const chunks = chunkOperations(operations, this.config.maxBatchItems, this.config.maxBatchBytes);
    const results = await mapWithConcurrency(chunks, this.config.maxConcurrentRequests, (chunk) =>
      this.writeChunk(chunk),
    );
    const unstored: string[] = [];
    let unstoredReason: string | undefined;
    for (const result of results) {
      rejected.push(...result.rejected);
      unstored.push(...result.unstored);
      unstoredReason ??= result.reason;
    }
    if (unstored.length > 0) {
      throw new SinkWriteError(
        `elasticsearch: ${unstored.length} of ${alerts.length} ${this.family.noun}s not stored after ${this.config.maxRetries + 1} attempts (${unstoredReason}); retry later`,
        rejected,
        [...unstored, ...rejected.map((item) => item.alertId)],
      );
    }
    if (rejected.length > 0) {
      this.counters.rejected += rejected.length;
      const detail = rejected
        .map((item) => `${this.family.noun} ${item.alertId}: ${item.status} ${item.reason}`)
        .join("; ");
      throw new SinkWriteError(
        `elasticsearch rejected ${rejected.length} of ${alerts.length} ${this.family.noun}s permanently: ${detail}`,
        rejected,
        rejected.map((item) => item.alertId),
      );
    }
  }

  /** One bounded _bulk request and its retries: what ES refused, and what is still not stored. */
  private async writeChunk(
    operations: Operation[],
  ): Promise<{ rejected: RejectedAlert[]; unstored: string[]; reason: string | undefined }> {
    const rejected: RejectedAlert[] = [];
    let pending = operations;
    for (let attempt = 1; ; attempt++) {
      const result = await this.attempt(pending);
      rejected.push(...result.rejected);
      pending = result.retry;
      if (pending.length === 0) return { rejected, unstored: [], reason: undefined };
      if (attempt > this.config.maxRetries) {
        return {
          rejected,
          unstored: pending.map((operation) => operation.alertId),
          reason: result.retryReason,
        };
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
  }

  /**
   * Raises vigil.alert.count (and last_seen) of stored alerts. Data streams are
   * append-only, so each alert is found by id (its backing index, seq_no) and
   * updated there with if_seq_no: two hubs raising the same count cannot lower
   * it. Throws a transient SinkWriteError when an alert is not searchable yet
   * (another hub is still writing it): the batch is redelivered and tries again.
   */
  async updateCounts(updates: AlertCountUpdate[]): Promise<void> {
    this.assertOpen();
    let pending = updates;
    for (let attempt = 1; pending.length > 0; attempt++) {
      pending = await this.updateCountsOnce(pending, attempt > 1);
      if (pending.length === 0) return;
      if (attempt > this.config.maxRetries) {
        throw new SinkWriteError(
          `elasticsearch: count of ${pending.length} alerts not updated after ${attempt} attempts; retry later`,
          [],
          pending.map((update) => update.alertId),
        );
      }
      await sleep(backoffDelayMs(this.retryPolicy(), attempt, this.random));
      this.assertOpen();
    }
  }

  /** One search + one bulk update; returns the updates to try again. */
  private async updateCountsOnce(updates: AlertCountUpdate[], refresh: boolean): Promise<AlertCountUpdate[]> {
    const { dataStream } = this.config;
    try {
      // A just-written alert is searchable only after a refresh.
      if (refresh) await this.client.indices.refresh({ index: dataStream });
      const found = await this.client.search<{ vigil?: { alert?: { count?: number } } }>({
        index: dataStream,
        size: updates.length,
        seq_no_primary_term: true,
        _source: ["vigil.alert.count"],
        query: { ids: { values: updates.map((update) => update.alertId) } },
      });
      const hits = new Map(found.hits.hits.map((hit) => [hit._id, hit]));
      const retry: AlertCountUpdate[] = [];
      const operations: string[] = [];
      const sent: AlertCountUpdate[] = [];
      for (const update of updates) {
        const hit = hits.get(update.alertId);
        if (hit === undefined) {
          retry.push(update);
          continue;
        }
        if ((hit._source?.vigil?.alert?.count ?? 1) >= update.count) continue;
        const meta = {
          _index: hit._index,
          _id: hit._id,
          if_seq_no: hit._seq_no,
          if_primary_term: hit._primary_term,
        };
        const doc = { vigil: { alert: { count: update.count, last_seen: update.lastSeen } } };
        operations.push(`${JSON.stringify({ update: meta })}\n${JSON.stringify({ doc })}\n`);
        sent.push(update);
      }
      if (operations.length === 0) return retry;
      const response = await this.client.bulk({ body: operations.join("") });
      sent.forEach((update, position) => {
        const item = response.items[position]?.update;
        // 409: someone changed it since the search; look again (and skip if they raised it further).
        if (item === undefined || item.status === 409 || isRetryableStatus(item.status)) retry.push(update);
        else if (item.status >= 300) {
          this.logger.error(
            { alertId: update.alertId, status: item.status, reason: describeCause(item.error) },
            "elasticsearch refused an alert count update; the count stays as it was",
          );
        }
      });
      return retry;
    } catch (error) {
      if (!isRetryableRequestError(error)) {
        throw new SinkWriteError(
          `elasticsearch: count update failed: ${describeRequestError(error)}`,
          [],
          updates.map((update) => update.alertId),
          { cause: error },
        );
      }
      this.counters.failedRequests++;
      return updates;
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
        const { templateName } = this.family;
        await this.client.indices.putIndexTemplate({
          name: templateName,
          ...this.family.template({ retention: this.config.retention, ilmPolicy: this.config.ilmPolicy }),
        });
        this.logger.info({ template: templateName }, "elasticsearch index template installed");
        return;
      } catch (error) {
        const reason = describeRequestError(error);
        if (!isRetryableRequestError(error) || attempt > this.config.maxRetries) {
          throw new VigilError(
            ErrorCodes.SINK_WRITE,
            `elasticsearch: cannot install index template ${this.family.templateName}: ${reason}`,
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
function toOperation(alert: StorableDocument): Operation | string {
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
