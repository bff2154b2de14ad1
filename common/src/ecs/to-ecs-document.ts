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
  return compact({
    id: e.id,
    kind: e.kind,
    category: e.category,
    type: e.type,
    action: e.action,
    outcome: e.outcome,
    module: e.module,
    dataset: e.dataset,
    sequence: e.sequence || undefined,
    ingested: e.ingestedUs ? ingestTimes.format(e.ingestedUs) : undefined,
  });
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
  return compact({
    pid: process.pid || undefined,
    entity_id: process.entityId,
    name: process.name,
    executable: process.executable,
    exec_filename: process.execFilename,
    args: process.args,
    args_count: process.args.length > 0 ? process.argsCount : undefined,
    command_line: process.commandLine,
    working_directory: process.workingDirectory,
    start: process.startUs ? processStarts.format(process.startUs) : undefined,
    exit_code: process.hasExitCode ? process.exitCode : undefined,
    session_leader: process.sessionLeaderPid ? { pid: process.sessionLeaderPid } : undefined,
    tty: process.tty?.name ? { name: process.tty.name } : undefined,
    user: process.user ? userDocument(process.user) : undefined,
    hash: process.hash?.sha256 ? { sha256: process.hash.sha256 } : undefined,
    login_user: process.loginUser
      ? compact({ id: process.loginUser.id, name: process.loginUser.name })
      : undefined,
    login_session_id: process.loginSessionId || undefined,
    parent: process.parent ? parentDocument(process.parent) : undefined,
  });
}

function parentDocument(parent: EcsProcessParent): EcsDocument {
  return compact({
    pid: parent.pid || undefined,
    entity_id: parent.entityId,
    name: parent.name,
    executable: parent.executable,
    exec_filename: parent.execFilename,
    args: parent.args,
    command_line: parent.commandLine,
    parent: parent.parent ? parentDocument(parent.parent) : undefined,
  });
}

function userDocument(user: EcsUser): EcsDocument {
  return compact({
    id: user.id,
    name: user.name,
    group: user.group ? compact({ id: user.group.id, name: user.group.name }) : undefined,
    effective: user.effective ? compact({ id: user.effective.id, name: user.effective.name }) : undefined,
    changes: user.changes ? compact({ id: user.changes.id, name: user.changes.name }) : undefined,
  });
}

function endpointDocument(endpoint: EcsEndpoint): EcsDocument {
  return compact({ ip: endpoint.ip, port: endpoint.port || undefined, address: endpoint.address });
}

function fileDocument(file: EcsFile): EcsDocument {
  return compact({
    path: file.path,
    name: file.name,
    directory: file.directory,
    extension: file.extension,
    flags: file.flags,
    mode: file.mode,
  });
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
    if (value === undefined || value === "") continue;
    if (typeof value === "object" && value !== null) {
      if (Array.isArray(value)) {
        if (value.length === 0) continue;
      } else if (isEmptyObject(value)) {
        continue;
      }
    }
    out[key] = value;
  }
  return out;
}

function isEmptyObject(value: object): boolean {
  for (const _ in value) return false;
  return true;
}
