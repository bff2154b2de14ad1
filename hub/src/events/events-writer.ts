// The events writer: keeps normalized events for investigation. Every instance
// joins one durable consumer of the events stream of its own (vigil-events-
// writer, beside the rule hubs' vigil-hub), so writers scale like hubs and
// each batch is written by one of them. A batch is acked only after its kept
// events are durable in every sink; a sink outage means redelivery, and since
// events are stored by event.id, a redelivered batch is stored once. Events a
// sink refuses for good go to vigil.deadletter.events with the reason.

import {
  type Bus,
  type BusMessage,
  type Consumption,
  Counter,
  decodeBusBatch,
  defaultStreams,
  type EcsDocument,
  EVENTS_STREAM,
  type EventSink,
  type HealthReport,
  type Logger,
  type Registry,
  toEcsDocument,
} from "@vigil/common";
import type { BusEventBatch } from "@vigil/proto";
import { EventSelection, type EventSelectionConfig } from "./event-selection";

export const EVENTS_WRITER_DURABLE = "vigil-events-writer";
export const EVENTS_DEAD_LETTER_SUBJECT = "vigil.deadletter.events";

export interface EventsWriterOptions {
  bus: Bus;
  sinks: EventSink[];
  selection: EventSelectionConfig;
  consumer: { maxInFlight: number; ackWaitMs: number; maxDeliver: number; retryDelayMs: number };
  logger: Logger;
  registry: Registry;
  /** Durable consumer name (tests give each writer group its own). */
  durable?: string;
}

interface WriterMetrics {
  batches: Counter<"outcome">;
  events: Counter<"outcome">;
  sinkErrors: Counter<"sink">;
}

export class EventsWriter {
  private readonly selection: EventSelection;
  private readonly metrics: WriterMetrics;
  private consumption: Consumption | undefined;
  private lastSinkError: string | undefined;

  constructor(private readonly options: EventsWriterOptions) {
    this.selection = new EventSelection(options.selection);
    this.metrics = {
      batches: new Counter({
        name: "vigil_events_writer_batches_total",
        help: "Bus batches the events writer handled, by outcome (acked, retried, poison)",
        labelNames: ["outcome"],
        registers: [options.registry],
      }),
      events: new Counter({
        name: "vigil_events_writer_events_total",
        help: "Events by outcome (stored, excluded, sampled_out, refused)",
        labelNames: ["outcome"],
        registers: [options.registry],
      }),
      sinkErrors: new Counter({
        name: "vigil_events_writer_sink_errors_total",
        help: "Failed event writes, by sink (the batch is redelivered)",
        labelNames: ["sink"],
        registers: [options.registry],
      }),
    };
  }

  async start(): Promise<void> {
    const { bus, consumer, logger } = this.options;
    await bus.ensureStreams(defaultStreams());
    this.consumption = await bus.consume(
      {
        stream: EVENTS_STREAM,
        durable: this.options.durable ?? EVENTS_WRITER_DURABLE,
        filterSubject: "vigil.events.>",
        maxInFlight: consumer.maxInFlight,
        ackWaitMs: consumer.ackWaitMs,
        maxDeliver: consumer.maxDeliver,
      },
      (message) => this.handle(message),
    );
    logger.info({ sinks: this.options.sinks.map((sink) => sink.name) }, "events writer consuming");
  }

  async stop(): Promise<void> {
    await this.consumption?.stop();
    this.consumption = undefined;
  }

  health(): Record<string, string> {
    return {
      eventsWriter: this.consumption === undefined ? "stopped" : "consuming",
      eventSinks: this.lastSinkError ? `last error: ${this.lastSinkError}` : "ok",
    };
  }

  /** Health of the writer alone (a dedicated writer's /healthz). */
  healthReport(): HealthReport {
    const busUp = this.options.bus.isHealthy();
    return {
      healthy: busUp && this.consumption !== undefined,
      checks: { bus: busUp ? "connected" : "disconnected", ...this.health() },
    };
  }

  /** The documents of a batch this writer keeps (exclusion and sampling applied). */
  select(batch: BusEventBatch): EcsDocument[] {
    const kept: EcsDocument[] = [];
    let excluded = 0;
    let sampledOut = 0;
    for (const event of batch.events) {
      const outcome = this.selection.decide(event.event?.action || undefined, event.event?.id ?? "");
      if (outcome === "excluded") excluded++;
      else if (outcome === "sampled-out") sampledOut++;
      else kept.push(toEcsDocument(event));
    }
    if (excluded > 0) this.metrics.events.inc({ outcome: "excluded" }, excluded);
    if (sampledOut > 0) this.metrics.events.inc({ outcome: "sampled_out" }, sampledOut);
    return kept;
  }

  private async handle(message: BusMessage): Promise<void> {
    const { logger } = this.options;
    let batch: BusEventBatch;
    try {
      batch = decodeBusBatch(message.data);
    } catch (error) {
      this.metrics.batches.inc({ outcome: "poison" });
      const reason = `undecodable BusEventBatch on ${message.subject}: ${(error as Error).message}`;
      logger.error({ seq: message.seq, msgId: message.msgId }, reason);
      message.term(reason);
      return;
    }
    const documents = this.select(batch);
    if (documents.length > 0 && !(await this.store(documents, batch))) {
      this.metrics.batches.inc({ outcome: "retried" });
      message.nak(this.options.consumer.retryDelayMs);
      return;
    }
    await message.ack();
    this.metrics.batches.inc({ outcome: "acked" });
  }

  /** Writes to every sink; false when the batch must come again. */
  private async store(documents: EcsDocument[], batch: BusEventBatch): Promise<boolean> {
    const { logger } = this.options;
    for (const sink of this.options.sinks) {
      try {
        const result = await sink.write(documents);
        this.metrics.events.inc({ outcome: "stored" }, result.stored);
        for (const refused of result.refused) {
          const document = documents.find(
            (candidate) => (candidate.event as { id?: string }).id === refused.id,
          );
          await this.options.bus.publish(
            EVENTS_DEAD_LETTER_SUBJECT,
            Buffer.from(JSON.stringify({ sink: sink.name, reason: refused.reason, event: document })),
            refused.id === undefined ? undefined : { msgId: `${sink.name}:${refused.id}` },
          );
          this.metrics.events.inc({ outcome: "refused" });
          logger.error(
            { sink: sink.name, eventId: refused.id, reason: refused.reason },
            `event refused by sink; set aside on ${EVENTS_DEAD_LETTER_SUBJECT}`,
          );
        }
      } catch (error) {
        this.metrics.sinkErrors.inc({ sink: sink.name });
        this.lastSinkError = `${sink.name}: ${(error as Error).message}`;
        logger.error(
          { sink: sink.name, agentId: batch.agentId, sequence: batch.sequence, err: error },
          "event write failed; batch will be redelivered",
        );
        return false;
      }
    }
    this.lastSinkError = undefined;
    return true;
  }
}
