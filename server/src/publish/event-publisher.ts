import { type Bus, batchMessageId, eventsSubject } from "@vigil/common";
import { BusEventBatch, type CanonicalEvent } from "@vigil/proto";

export interface PublishedBatch {
  duplicate: boolean;
  bytes: number;
}

/**
 * Publishes one agent batch as one bus message. The message id makes the bus
 * drop a batch the agent resent (after a lost ack, or to another server).
 */
export class EventPublisher {
  constructor(
    private readonly bus: Bus,
    private readonly serverId: string,
  ) {}

  async publish(
    agentId: string,
    sequence: number,
    events: CanonicalEvent[],
    receivedUs: number,
  ): Promise<PublishedBatch> {
    const data = BusEventBatch.encode({
      agentId,
      sequence,
      serverId: this.serverId,
      receivedUs,
      events,
    }).finish();
    const ack = await this.bus.publish(eventsSubject(agentId), data, {
      msgId: batchMessageId(agentId, sequence),
    });
    return { duplicate: ack.duplicate, bytes: data.byteLength };
  }
}
