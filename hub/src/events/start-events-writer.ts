// Opens the events writer's sinks from the hub's configuration and starts it:
// the SQLite event store when events.storePath is set, the hub's Elasticsearch
// cluster (data stream vigil-events) when elasticsearch is set.

import {
  type Bus,
  ErrorCodes,
  type EventSink,
  type Logger,
  type Registry,
  SqliteEventStore,
  VigilError,
} from "@vigil/common";
import type { HubConfig } from "../config";
import { ElasticsearchEventSink } from "./elasticsearch-event-sink";
import { EventsWriter } from "./events-writer";

export interface RunningEventsWriter {
  writer: EventsWriter;
  stop(): Promise<void>;
}

export async function startEventsWriter(
  config: HubConfig,
  bus: Bus,
  logger: Logger,
  registry: Registry,
): Promise<RunningEventsWriter> {
  const events = config.events;
  const sinks: EventSink[] = [];
  try {
    if (events.storePath) {
      sinks.push(
        new SqliteEventStore({
          path: events.storePath,
          retention: { maxBytes: events.maxBytes, maxDays: events.maxDays },
          logger,
        }),
      );
    }
    if (config.elasticsearch) {
      const es = config.elasticsearch;
      const sink = new ElasticsearchEventSink({
        config: {
          nodes: es.nodes,
          auth: es.apiKey
            ? { apiKey: es.apiKey }
            : es.username && es.password
              ? { username: es.username, password: es.password }
              : undefined,
          caFile: es.caFile,
          requestTimeoutMs: es.requestTimeoutMs,
          maxRetries: es.maxRetries,
          retention: events.retention,
          ilmPolicy: events.ilmPolicy,
          maxBatchItems: es.maxBatchItems,
          maxBatchBytes: es.maxBatchBytes,
          maxConcurrentRequests: es.maxConcurrentRequests,
        },
        logger: logger.child({ sink: "elasticsearch-events" }),
      });
      sinks.push(sink);
      await sink.start();
    }
    if (sinks.length === 0) {
      throw new VigilError(
        ErrorCodes.CONFIG_INVALID,
        "events.storePath: the events writer is on but has nowhere to write (set events.storePath or elasticsearch.nodes)",
      );
    }
    const writer = new EventsWriter({
      bus,
      sinks,
      selection: { exclude: events.exclude, sample: events.sample },
      consumer: events.consumer,
      logger,
      registry,
    });
    await writer.start();
    return {
      writer,
      stop: async () => {
        await writer.stop();
        for (const sink of sinks) await sink.close();
      },
    };
  } catch (error) {
    for (const sink of sinks) await sink.close().catch(() => undefined);
    throw error;
  }
}
