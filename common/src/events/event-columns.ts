// The indexed fields of an event document (the events table's columns, and
// what the Elasticsearch writer checks before sending). A document without
// event.id, a valid @timestamp or a host cannot be found again, so it is
// refused with the reason instead of stored.

import type { EcsDocument } from "../alerts/types";

export interface EventColumns {
  id: string;
  tsMs: number;
  hostId: string;
  hostName: string | null;
  category: string | null;
  action: string | null;
  processEntityId: string | null;
  processPid: number | null;
  parentEntityId: string | null;
  executable: string | null;
  commandLine: string | null;
  sha256: string | null;
  userName: string | null;
  destinationIp: string | null;
  destinationPort: number | null;
  direction: string | null;
  sourcePort: number | null;
  filePath: string | null;
  doc: string;
  bytes: number;
}

/** Columns of `document`, or the reason it cannot be stored. */
export function eventColumns(document: EcsDocument): EventColumns | { refused: string; id?: string } {
  const event = objectAt(document, "event");
  const id = stringAt(event, "id");
  if (id === null) return { refused: "event.id is missing" };
  const timestamp = document["@timestamp"];
  const tsMs = typeof timestamp === "string" ? Date.parse(timestamp) : Number.NaN;
  if (!Number.isFinite(tsMs)) return { id, refused: "@timestamp is missing or not an ISO time" };
  const host = objectAt(document, "host");
  // An agent's host id is its agent id; fall back to it for documents built without host.id.
  const hostId = stringAt(host, "id") ?? stringAt(objectAt(document, "agent"), "id");
  if (hostId === null) return { id, refused: "host.id (or agent.id) is missing" };
  let doc: string;
  try {
    doc = JSON.stringify(document);
  } catch (error) {
    return { id, refused: `cannot be serialised to JSON: ${error instanceof Error ? error.message : error}` };
  }
  const process = objectAt(document, "process");
  const parent = objectAt(process, "parent");
  const destination = objectAt(document, "destination");
  const category = event?.category;
  return {
    id,
    tsMs,
    hostId,
    hostName: stringAt(host, "name"),
    category: Array.isArray(category)
      ? category.filter((value) => typeof value === "string").join(",") || null
      : stringAt(event, "category"),
    action: stringAt(event, "action"),
    processEntityId: stringAt(process, "entity_id"),
    processPid: integerAt(process, "pid"),
    parentEntityId: stringAt(parent, "entity_id"),
    executable: stringAt(process, "executable"),
    commandLine: stringAt(process, "command_line"),
    sha256: stringAt(objectAt(process, "hash"), "sha256"),
    userName: stringAt(objectAt(document, "user"), "name") ?? stringAt(objectAt(process, "user"), "name"),
    destinationIp: stringAt(destination, "ip"),
    destinationPort: integerAt(destination, "port"),
    direction: stringAt(objectAt(document, "network"), "direction"),
    sourcePort: integerAt(objectAt(document, "source"), "port"),
    filePath: stringAt(objectAt(document, "file"), "path"),
    doc,
    bytes: Buffer.byteLength(doc),
  };
}

export function objectAt(parent: unknown, key: string): Record<string, unknown> | undefined {
  if (typeof parent !== "object" || parent === null) return undefined;
  const value = (parent as Record<string, unknown>)[key];
  return typeof value === "object" && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

export function stringAt(parent: Record<string, unknown> | undefined, key: string): string | null {
  const value = parent?.[key];
  return typeof value === "string" && value !== "" ? value : null;
}

function integerAt(parent: Record<string, unknown> | undefined, key: string): number | null {
  const value = parent?.[key];
  return typeof value === "number" && Number.isSafeInteger(value) ? value : null;
}
