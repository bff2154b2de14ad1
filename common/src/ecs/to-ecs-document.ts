import type {
  CanonicalEvent,
  EcsEndpoint,
  EcsEvent,
  EcsFile,
  EcsHost,
  EcsProcess,
  EcsProcessParent,
  EcsUser,
} from "@vigil/proto";
import type { EcsDocument } from "../alerts/types";

/**
 * ISO 8601 text of microsecond timestamps (millisecond precision, as ECS dates
 * are indexed), remembering the last second formatted: one clock per field,
 * since a batch's event times, ingest times and process start times each fall
 * within a few seconds of their own (Date#toISOString was a twentieth of the
 * hub's time per event).
 */
export class IsoClock {
  private second = Number.NaN;
  private prefix = "";

  format(us: number): string {
    const ms = Math.floor(us / 1000);
    const second = Math.floor(ms / 1000);
    if (second !== this.second) {
      const iso = new Date(second * 1000).toISOString();
      // Years past 9999 or before 0 change the text's shape.
      if (iso.length !== 24) return new Date(ms).toISOString();
      this.second = second;
      this.prefix = iso.slice(0, 20);
    }
    const millis = ms - second * 1000;
    return `${this.prefix}${millis < 10 ? "00" : millis < 100 ? "0" : ""}${millis}Z`;
  }
}

const eventTimes = new IsoClock();
const ingestTimes = new IsoClock();
const processStarts = new IsoClock();

function eventDocument(e: EcsEvent): EcsDocument {
  const out: EcsDocument = {};
  put(out, "id", e.id);
  put(out, "kind", e.kind);
  put(out, "category", e.category);
  put(out, "type", e.type);
  put(out, "action", e.action);
  put(out, "outcome", e.outcome);
  put(out, "module", e.module);
  put(out, "dataset", e.dataset);
  put(out, "sequence", e.sequence || undefined);
  put(out, "ingested", e.ingestedUs ? ingestTimes.format(e.ingestedUs) : undefined);
  return out;
}

/**
 * The top-level fields of an event's ECS document, in document order, each
 * built from the CanonicalEvent on its own (undefined: the field is left
 * out). toEcsDocument builds them all; the hub's EcsEventView builds only the
 * ones its rules read.
 */
export const ECS_TOP_LEVEL_FIELDS: ReadonlyArray<readonly [string, (event: CanonicalEvent) => unknown]> = [
  ["@timestamp", (event) => eventTimes.format(event.timestampUs)],
  ["event", (event) => (event.event ? eventDocument(event.event) : undefined)],
  ["host", (event) => (event.host ? hostDocument(event.host) : undefined)],
  [
    "agent",
    (event) =>
      event.agent
        ? compact({ id: event.agent.id, type: event.agent.type, version: event.agent.version })
        : undefined,
  ],
  ["process", (event) => (event.process ? processDocument(event.process) : undefined)],
  ["user", (event) => (event.user ? userDocument(event.user) : undefined)],
  ["source", (event) => (event.source ? endpointDocument(event.source) : undefined)],
  ["destination", (event) => (event.destination ? endpointDocument(event.destination) : undefined)],
  [
    "network",
    (event) =>
      event.network
        ? compact({
            transport: event.network.transport,
            type: event.network.type,
            direction: event.network.direction,
          })
        : undefined,
  ],
  ["file", (event) => (event.file ? fileDocument(event.file) : undefined)],
  [
    "container",
    (event) =>
      event.container ? compact({ id: event.container.id, runtime: event.container.runtime }) : undefined,
  ],
  ["vigil", (event) => (isEmptyObject(event.vigil) ? undefined : { ...event.vigil })],
];

/**
 * Turns a bus CanonicalEvent into the ECS JSON document that rules match and
 * alerts carry. Empty strings, empty lists and unset messages are left out so
 * that "field is absent" means the same thing in a rule, in SQLite and in
 * Elasticsearch.
 */
export function toEcsDocument(event: CanonicalEvent): EcsDocument {
  const doc: EcsDocument = {};
  for (const [name, build] of ECS_TOP_LEVEL_FIELDS) {
    const value = build(event);
    if (value !== undefined) doc[name] = value;
  }
  return doc;
}

function hostDocument(host: EcsHost): EcsDocument {
  return compact({
    id: host.id,
    name: host.name,
    hostname: host.hostname,
    architecture: host.architecture,
    ip: host.ip,
    os: host.os
      ? compact({ type: host.os.type, name: host.os.name, version: host.os.version, kernel: host.os.kernel })
      : undefined,
  });
}

function processDocument(process: EcsProcess): EcsDocument {
  const out: EcsDocument = {};
  put(out, "pid", process.pid || undefined);
  put(out, "entity_id", process.entityId);
  put(out, "name", process.name);
  put(out, "executable", process.executable);
  put(out, "exec_filename", process.execFilename);
  put(out, "args", process.args);
  put(out, "args_count", process.args.length > 0 ? process.argsCount : undefined);
  put(out, "command_line", process.commandLine);
  put(out, "working_directory", process.workingDirectory);
  put(out, "start", process.startUs ? processStarts.format(process.startUs) : undefined);
  put(out, "exit_code", process.hasExitCode ? process.exitCode : undefined);
  put(out, "session_leader", process.sessionLeaderPid ? { pid: process.sessionLeaderPid } : undefined);
  put(out, "tty", process.tty?.name ? { name: process.tty.name } : undefined);
  put(out, "user", process.user ? userDocument(process.user) : undefined);
  put(out, "hash", process.hash?.sha256 ? { sha256: process.hash.sha256 } : undefined);
  put(
    out,
    "login_user",
    process.loginUser ? compact({ id: process.loginUser.id, name: process.loginUser.name }) : undefined,
  );
  put(out, "login_session_id", process.loginSessionId || undefined);
  put(out, "parent", process.parent ? parentDocument(process.parent) : undefined);
  return out;
}

/**
 * Parent documents by parent: a bus batch carries each distinct parent once
 * and its events share it (completeBatchEvents), so their documents share one
 * parent document too. Like the parents, documents must not be modified.
 */
const parentDocuments = new WeakMap<EcsProcessParent, EcsDocument>();

function parentDocument(parent: EcsProcessParent): EcsDocument {
  let doc = parentDocuments.get(parent);
  if (doc === undefined) {
    doc = buildParentDocument(parent);
    parentDocuments.set(parent, doc);
  }
  return doc;
}

function buildParentDocument(parent: EcsProcessParent): EcsDocument {
  const out: EcsDocument = {};
  put(out, "pid", parent.pid || undefined);
  put(out, "entity_id", parent.entityId);
  put(out, "name", parent.name);
  put(out, "executable", parent.executable);
  put(out, "exec_filename", parent.execFilename);
  put(out, "args", parent.args);
  put(out, "command_line", parent.commandLine);
  put(out, "parent", parent.parent ? parentDocument(parent.parent) : undefined);
  return out;
}

function userDocument(user: EcsUser): EcsDocument {
  const out: EcsDocument = {};
  put(out, "id", user.id);
  put(out, "name", user.name);
  put(out, "group", user.group ? compact({ id: user.group.id, name: user.group.name }) : undefined);
  put(
    out,
    "effective",
    user.effective ? compact({ id: user.effective.id, name: user.effective.name }) : undefined,
  );
  put(out, "changes", user.changes ? compact({ id: user.changes.id, name: user.changes.name }) : undefined);
  return out;
}

function endpointDocument(endpoint: EcsEndpoint): EcsDocument {
  return compact({ ip: endpoint.ip, port: endpoint.port || undefined, address: endpoint.address });
}

function fileDocument(file: EcsFile): EcsDocument {
  const out: EcsDocument = {};
  put(out, "path", file.path);
  put(out, "name", file.name);
  put(out, "directory", file.directory);
  put(out, "extension", file.extension);
  put(out, "flags", file.flags);
  put(out, "mode", file.mode);
  return out;
}

/** Whether a field value is left out of documents: undefined, '', [] or {}. */
function isEmptyValue(value: unknown): boolean {
  if (value === undefined || value === "") return true;
  if (typeof value !== "object" || value === null) return false;
  return Array.isArray(value) ? value.length === 0 : isEmptyObject(value);
}

/** Sets a field unless its value is one documents leave out. */
function put(out: EcsDocument, key: string, value: unknown): void {
  if (!isEmptyValue(value)) out[key] = value;
}

/**
 * Drops undefined, empty strings, empty arrays and empty objects. Walks the
 * keys with for-in rather than Object.entries: this runs for every
 * sub-object of every event on the hub's hot path.
 */
function compact(fields: Record<string, unknown>): EcsDocument {
  const out: EcsDocument = {};
  for (const key in fields) {
    const value = fields[key];
    if (!isEmptyValue(value)) out[key] = value;
  }
  return out;
}

function isEmptyObject(value: object): boolean {
  for (const _ in value) return false;
  return true;
}
