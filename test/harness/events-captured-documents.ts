// The ECS documents of the captured vigil.ko stream (test/fixtures/driver/
// stream.bin), through the real code of every stage but the network: the
// agent's driver record handling (decode, map, process tracking), the
// server's batch normalization (shared parents) and the hub's batch
// completion and toEcsDocument. Real recorded events with a real process tree,
// for the event store suites.

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { completeBatchEvents, type EcsDocument, silentLogger, toEcsDocument } from "@vigil/common";
import { BusEventBatch, type Event } from "@vigil/proto";
import { DriverRecordHandler } from "../../agent/src/collectors/driver/driver-record-handler";
import { identityFromHello } from "../../server/src/normalize/agent-identity";
import { normalizeBatch } from "../../server/src/normalize/normalize-batch";
import { SAMPLE_HELLO } from "../fixtures/sample-events";

export const CAPTURED_STREAM = join(__dirname, "../fixtures/driver/stream.bin");

/** The capture's events as the agent sends them (one batch). */
export function capturedAgentEvents(path = CAPTURED_STREAM): Event[] {
  const handler = new DriverRecordHandler({ logger: silentLogger() });
  const events: Event[] = [];
  handler.push(readFileSync(path), (event) => events.push(event));
  handler.finish((event) => events.push(event));
  return events;
}

/**
 * The capture as bus batches of at most `perBatch` events, as a server would
 * publish them (each carries the capture's shared parents, so parent indexes
 * stay valid). decodeBusBatch / completeBatchEvents make their events whole.
 */
export function capturedBusBatches(perBatch: number, path = CAPTURED_STREAM): BusEventBatch[] {
  const identity = identityFromHello(SAMPLE_HELLO);
  const normalized = normalizeBatch(identity, 1, capturedAgentEvents(path), 1_763_900_000_100_000);
  const batches: BusEventBatch[] = [];
  for (let start = 0; start < normalized.events.length; start += perBatch) {
    batches.push(
      BusEventBatch.fromPartial({
        agentId: identity.agentId,
        sequence: batches.length + 1,
        serverId: "s",
        host: identity.host,
        agent: identity.agent,
        parents: normalized.parents,
        events: normalized.events.slice(start, start + perBatch),
      }),
    );
  }
  return batches;
}

/** The capture's events as the hub's ECS documents, in stream order. */
export function capturedDocuments(path = CAPTURED_STREAM): EcsDocument[] {
  const [batch] = capturedBusBatches(Number.MAX_SAFE_INTEGER, path);
  if (batch === undefined) throw new Error(`no events in ${path}`);
  return completeBatchEvents(batch).map((event) => toEcsDocument(event));
}
