// Event documents into the Elasticsearch data stream vigil-events, through the
// alert sink's bulk machinery (bounded _bulk chunks and concurrency, create by
// event.id so a redelivery answers 409 and counts as stored, retries with
// backoff, then a throw: the writer naks and the bus redelivers). Documents ES
// refuses on their own merits come back as refused, for the dead-letter subject.

import {
  type EcsDocument,
  type EventSink,
  type EventWriteResult,
  eventColumns,
  type Logger,
  type RefusedEvent,
} from "@vigil/common";
import type { ElasticsearchSinkConfig } from "../sinks/elasticsearch-config";
import { type DataStreamFamily, ElasticsearchSink, type StorableDocument } from "../sinks/elasticsearch-sink";
import { SinkWriteError } from "../sinks/sink-write-error";
import { EVENTS_DATA_STREAM, EVENTS_INDEX_TEMPLATE_NAME, eventsIndexTemplate } from "./events-index-template";

export const EVENTS_FAMILY: DataStreamFamily = {
  noun: "event",
  dataStreamPrefix: EVENTS_DATA_STREAM,
  templateName: EVENTS_INDEX_TEMPLATE_NAME,
  template: eventsIndexTemplate,
};

export interface ElasticsearchEventSinkOptions {
  config: Partial<ElasticsearchSinkConfig>;
  logger?: Logger;
  random?: () => number;
}

export class ElasticsearchEventSink implements EventSink {
  readonly name = "elasticsearch";
  private readonly sink: ElasticsearchSink;

  constructor(options: ElasticsearchEventSinkOptions) {
    this.sink = new ElasticsearchSink({ ...options, family: EVENTS_FAMILY });
  }

  get counters(): ElasticsearchSink["counters"] {
    return this.sink.counters;
  }

  /** Installs the vigil-events index template (write() does it too when needed). */
  start(): Promise<void> {
    return this.sink.start();
  }

  async write(documents: readonly EcsDocument[]): Promise<EventWriteResult> {
    const refused: RefusedEvent[] = [];
    const storable: StorableDocument[] = [];
    for (const document of documents) {
      const columns = eventColumns(document);
      if ("refused" in columns) refused.push({ id: columns.id, reason: columns.refused });
      else storable.push({ id: columns.id, timestampUs: columns.tsMs * 1000, document });
    }
    try {
      await this.sink.write(storable);
    } catch (error) {
      // Only a write whose every unstored event was refused for good goes on; anything transient is retried.
      if (!(error instanceof SinkWriteError) || !error.permanent) throw error;
      const rejected = new Set(error.rejected.map((item) => item.alertId));
      if (error.unstoredIds.some((id) => !rejected.has(id))) throw error;
      for (const item of error.rejected) {
        refused.push({
          id: item.alertId,
          reason: `elasticsearch ${item.status} ${item.type}: ${item.reason}`,
        });
      }
      return { stored: storable.length - rejected.size, refused };
    }
    return { stored: storable.length, refused };
  }

  close(): Promise<void> {
    return this.sink.close();
  }
}
