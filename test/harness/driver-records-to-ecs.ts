// vigil.ko records through the real code of every stage but the network: the
// agent's driver record handling (decode, map, process table), the server's
// normalization and the ECS document the hub's rules match. For rule tests
// built from hand-encoded records.

import { silentLogger, toEcsDocument } from "@vigil/common";
import type { Event } from "@vigil/proto";
import { DriverRecordHandler } from "../../agent/src/collectors/driver/driver-record-handler";
import {
  type EncodeHeader,
  type EncodeValue,
  encodeRecord,
} from "../../agent/src/collectors/driver/record-encoder";
import type { EcsDocument } from "../../hub/src/sigma/types";
import { identityFromHello } from "../../server/src/normalize/agent-identity";
import { normalizeEvent } from "../../server/src/normalize/normalize-event";
import { SAMPLE_HELLO } from "../fixtures/sample-events";

/** One record: type, fields, and the header fields that differ from the defaults. */
export type DriverRecordSpec = [number, Record<string, EncodeValue>, EncodeHeader?];

const identity = identityFromHello(SAMPLE_HELLO);

/** The ECS documents of `records`, in order, as one agent batch. */
export function driverRecordsToEcs(records: DriverRecordSpec[]): EcsDocument[] {
  const handler = new DriverRecordHandler({ logger: silentLogger() });
  const events: Event[] = [];
  for (const [type, fields, header] of records) {
    handler.push(encodeRecord(type, fields, { tsRealNs: 1_763_900_000_000_000_000n, ...header }), (event) =>
      events.push(event),
    );
  }
  handler.finish((event) => events.push(event));
  return events.map((event, index) => {
    const canonical = normalizeEvent(identity, event, {
      sequence: 1,
      index,
      receivedUs: 1_763_900_000_100_000,
    });
    if (canonical === undefined) throw new Error("no canonical event");
    // The host and agent travel on the bus batch; put them on as the hub does.
    return toEcsDocument({ ...canonical, host: identity.host, agent: identity.agent }) as EcsDocument;
  });
}
