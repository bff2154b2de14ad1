import { type Bus, batchMessageId, eventsSubject } from "@vigil/common";
import { BusEventBatch, type CanonicalEvent, reusedWriterEncoder } from "@vigil/proto";
import type { AgentIdentity } from "../normalize/agent-identity";
import { PublishSlots } from "./publish-slots";

export interface PublishedBatch {
  /** Every part was already on the bus (a resent batch). */
  duplicate: boolean;
  bytes: number;
  /** Bus messages the batch took (more than one when it exceeded the bus's message limit). */
  parts: number;
  /** Events dropped because one alone exceeds the bus's message limit. */
  oversizedEvents: number;
}

/** Room left in a bus message for headers and protocol framing. */
const MESSAGE_OVERHEAD_BYTES = 4096;
/** Publishes awaiting their bus ack at once, server-wide (JetStream acks in ~1 ms: plenty). */
export const DEFAULT_CONCURRENT_PUBLISHES = 256;

/**
 * Publishes one agent batch as one bus message, or as several when it exceeds
 * the bus's message limit (NATS max_payload). Message ids are the batch's
 * dedup id, with a part suffix when split, so a resent batch is dropped by the
 * bus either way; the split is deterministic for the same events.
 */
export class EventPublisher {
  private readonly slots: PublishSlots;
  private readonly encodeBatch = reusedWriterEncoder(BusEventBatch);

  constructor(
    private readonly bus: Bus,
    private readonly serverId: string,
    concurrentPublishes = DEFAULT_CONCURRENT_PUBLISHES,
  ) {
    this.slots = new PublishSlots(concurrentPublishes);
  }

  async publish(
    identity: AgentIdentity,
    sequence: number,
    events: CanonicalEvent[],
    receivedUs: number,
  ): Promise<PublishedBatch> {
    const { agentId, host, agent } = identity;
    const limit = this.bus.maxMessageBytes() - MESSAGE_OVERHEAD_BYTES;
    const encode = (part: CanonicalEvent[]) =>
      this.encodeBatch({
        agentId,
        sequence,
        serverId: this.serverId,
        receivedUs,
        events: part,
        host,
        agent,
      });
    const whole = encode(events);
    const subject = eventsSubject(agentId);
    const batchId = batchMessageId(agentId, sequence);
    if (whole.byteLength <= limit) {
      const ack = await this.slots.run(() => this.bus.publish(subject, whole, { msgId: batchId }));
      return { duplicate: ack.duplicate, bytes: whole.byteLength, parts: 1, oversizedEvents: 0 };
    }
    const { parts, oversizedEvents } = splitToFit(events, encode, limit);
    let duplicates = 0;
    let bytes = 0;
    for (let index = 0; index < parts.length; index++) {
      const msgId = `${batchId}:${index + 1}/${parts.length}`;
      const ack = await this.slots.run(() => this.bus.publish(subject, parts[index], { msgId }));
      if (ack.duplicate) duplicates++;
      bytes += parts[index].byteLength;
    }
    return {
      duplicate: parts.length > 0 && duplicates === parts.length,
      bytes,
      parts: parts.length,
      oversizedEvents,
    };
  }
}

/** Halves event ranges until each encodes within the limit; a lone event over it is dropped and counted. */
function splitToFit(
  events: CanonicalEvent[],
  encode: (part: CanonicalEvent[]) => Uint8Array,
  limit: number,
): { parts: Uint8Array[]; oversizedEvents: number } {
  const parts: Uint8Array[] = [];
  let oversizedEvents = 0;
  const pending: CanonicalEvent[][] = [events];
  while (pending.length > 0) {
    const range = pending.shift() as CanonicalEvent[];
    const encoded = encode(range);
    if (encoded.byteLength <= limit) {
      parts.push(encoded);
    } else if (range.length === 1) {
      oversizedEvents++;
    } else {
      const middle = Math.ceil(range.length / 2);
      pending.unshift(range.slice(0, middle), range.slice(middle));
    }
  }
  return { parts, oversizedEvents };
}
