import { BusEventBatch, type CanonicalEvent } from "@vigil/proto";

/**
 * The batch's events made whole. The server sends what events of a batch
 * share once per batch — the agent's host and agent facts, and each distinct
 * parent process (BusEventBatch.parents, pointed at by process.parent_index) —
 * which halves what it encodes per event. This puts them back on each event.
 * An event from an older server that carries its own keeps them. Parents are
 * shared objects between events: readers must not modify them.
 */
export function completeBatchEvents(batch: BusEventBatch): CanonicalEvent[] {
  const { host, agent, parents, events } = batch;
  for (const event of events) {
    event.host ??= host;
    event.agent ??= agent;
    const process = event.process;
    if (process && process.parentIndex > 0 && !process.parent) {
      process.parent = parents[process.parentIndex - 1];
      if (!process.parent)
        throw new Error(
          `process.parent_index ${process.parentIndex} is past the batch's ${parents.length} parents`,
        );
    }
  }
  return events;
}

/**
 * A bus message's batch as readers use it: decoded, with its events made
 * whole (completeBatchEvents). Throws on bytes that are not a BusEventBatch
 * and on a parent index past the batch's parents — both an undecodable batch.
 */
export function decodeBusBatch(data: Uint8Array): BusEventBatch {
  const batch = BusEventBatch.decode(data);
  completeBatchEvents(batch);
  return batch;
}
