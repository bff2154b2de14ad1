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
  putText(out, "id", e.id);
  putText(out, "kind", e.kind);
  putList(out, "category", e.category);
  putList(out, "type", e.type);
  putText(out, "action", e.action);
  putText(out, "outcome", e.outcome);
  putText(out, "module", e.module);
  putText(out, "dataset", e.dataset);
  putNumber(out, "sequence", e.sequence);
  if (e.ingestedUs) out.ingested = ingestTimes.format(e.ingestedUs);
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
  putNumber(out, "pid", process.pid);
  putText(out, "entity_id", process.entityId);
  putText(out, "name", process.name);
  putText(out, "executable", process.executable);
  putText(out, "exec_filename", process.execFilename);
  putList(out, "args", process.args);
  if (process.args.length > 0) out.args_count = process.argsCount;
  putText(out, "command_line", process.commandLine);
  putText(out, "working_directory", process.workingDirectory);
  if (process.startUs) out.start = processStarts.format(process.startUs);
  if (process.hasExitCode) out.exit_code = process.exitCode;
  if (process.sessionLeaderPid) out.session_leader = { pid: process.sessionLeaderPid };
  if (process.tty?.name) out.tty = { name: process.tty.name };
  if (process.user) putDocument(out, "user", userDocument(process.user));
  if (process.hash?.sha256) out.hash = { sha256: process.hash.sha256 };
  if (process.loginUser) putDocument(out, "login_user", idAndName(process.loginUser));
  putNumber(out, "login_session_id", process.loginSessionId);
  if (process.parent) putDocument(out, "parent", parentDocument(process.parent));
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
  putNumber(out, "pid", parent.pid);
  putText(out, "entity_id", parent.entityId);
  putText(out, "name", parent.name);
  putText(out, "executable", parent.executable);
  putText(out, "exec_filename", parent.execFilename);
  putList(out, "args", parent.args);
  putText(out, "command_line", parent.commandLine);
  if (parent.parent) putDocument(out, "parent", parentDocument(parent.parent));
  return out;
}

function userDocument(user: EcsUser): EcsDocument {
  const out: EcsDocument = {};
  putText(out, "id", user.id);
  putText(out, "name", user.name);
  if (user.group) putDocument(out, "group", idAndName(user.group));
  if (user.effective) putDocument(out, "effective", idAndName(user.effective));
  if (user.changes) putDocument(out, "changes", idAndName(user.changes));
  return out;
}

function idAndName(ref: { id: string; name: string }): EcsDocument {
  const out: EcsDocument = {};
  putText(out, "id", ref.id);
  putText(out, "name", ref.name);
  return out;
}

function endpointDocument(endpoint: EcsEndpoint): EcsDocument {
  return compact({ ip: endpoint.ip, port: endpoint.port || undefined, address: endpoint.address });
}

function fileDocument(file: EcsFile): EcsDocument {
  const out: EcsDocument = {};
  putText(out, "path", file.path);
  putText(out, "name", file.name);
  putText(out, "directory", file.directory);
  putText(out, "extension", file.extension);
  putList(out, "flags", file.flags);
  putText(out, "mode", file.mode);
  return out;
}

/** Whether a field value is left out of documents: undefined, '', [] or {}. */
function isEmptyValue(value: unknown): boolean {
  if (value === undefined || value === "") return true;
  if (typeof value !== "object" || value === null) return false;
  return Array.isArray(value) ? value.length === 0 : isEmptyObject(value);
}

// Setters that leave out what documents leave out ('', 0 for ids and counts,
// [] and {}); small and typed so that V8 inlines them on the hot path.

function putText(out: EcsDocument, key: string, value: string): void {
  if (value !== "") out[key] = value;
}

function putNumber(out: EcsDocument, key: string, value: number): void {
  if (value) out[key] = value;
}

function putList(out: EcsDocument, key: string, value: readonly unknown[]): void {
  if (value.length > 0) out[key] = value;
}

function putDocument(out: EcsDocument, key: string, value: EcsDocument): void {
  if (!isEmptyObject(value)) out[key] = value;
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
