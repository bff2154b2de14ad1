import { type Bus, batchMessageId, eventsSubject } from "@vigil/common";
import { BusEventBatch, type CanonicalEvent, type EcsProcessParent, reusedWriterEncoder } from "@vigil/proto";
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

/** A batch encoded for the bus: only bytes, so nothing of the decoded events stays alive while the bus acks. */
export interface EncodedBatch {
  agentId: string;
  sequence: number;
  /** One bus message, or several when the batch exceeded the bus's message limit. */
  parts: Uint8Array[];
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
 * Encoding (synchronous) and sending (awaits the bus ack) are separate steps so
 * that a thousand canonical events are garbage before the wait, not kept
 * through it and promoted to the old generation of the heap.
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

  encode(
    identity: AgentIdentity,
    sequence: number,
    events: CanonicalEvent[],
    receivedUs: number,
    /** The events' shared parents (ParentTable); each part of a split batch carries them all. */
    parents: EcsProcessParent[] = [],
  ): EncodedBatch {
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
        parents,
      });
    const whole = encode(events);
    if (whole.byteLength <= limit) return { agentId, sequence, parts: [whole], oversizedEvents: 0 };
    return { agentId, sequence, ...splitToFit(events, encode, limit) };
  }

  async send(batch: EncodedBatch): Promise<PublishedBatch> {
    const subject = eventsSubject(batch.agentId);
    const batchId = batchMessageId(batch.agentId, batch.sequence);
    const { parts, oversizedEvents } = batch;
    let duplicates = 0;
    let bytes = 0;
    for (let index = 0; index < parts.length; index++) {
      const msgId = parts.length === 1 ? batchId : `${batchId}:${index + 1}/${parts.length}`;
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
