import type { BusEventBatch, CanonicalEvent } from "@vigil/proto";

/**
 * The batch's events, each with the batch's host and agent when it carries
 * none of its own. The server sends those once per batch (they are the same
 * for every event of an agent), which halves what it encodes per event; an
 * event from an older server that still carries them keeps its own.
 */
export function withBatchIdentity(batch: BusEventBatch): CanonicalEvent[] {
  const { host, agent, events } = batch;
  if (!host && !agent) return events;
  for (const event of events) {
    event.host ??= host;
    event.agent ??= agent;
  }
  return events;
}
