import type {
  CanonicalEvent,
  EcsEndpoint,
  EcsFile,
  EcsHost,
  EcsProcess,
  EcsProcessParent,
  EcsUser,
} from "@vigil/proto";
import type { EcsDocument } from "../alerts/types";

/**
 * Turns a bus CanonicalEvent into the ECS JSON document that rules match and
 * alerts carry. Empty strings, empty lists and unset messages are left out so
 * that "field is absent" means the same thing in a rule, in SQLite and in
 * Elasticsearch.
 */
export function toEcsDocument(event: CanonicalEvent): EcsDocument {
  const doc: EcsDocument = { "@timestamp": new Date(Math.floor(event.timestampUs / 1000)).toISOString() };
  if (event.event) {
    const e = event.event;
    doc.event = compact({
      id: e.id,
      kind: e.kind,
      category: e.category,
      type: e.type,
      action: e.action,
      outcome: e.outcome,
      module: e.module,
      dataset: e.dataset,
      sequence: e.sequence || undefined,
      ingested: e.ingestedUs ? new Date(Math.floor(e.ingestedUs / 1000)).toISOString() : undefined,
    });
  }
  if (event.host) doc.host = hostDocument(event.host);
  if (event.agent)
    doc.agent = compact({ id: event.agent.id, type: event.agent.type, version: event.agent.version });
  if (event.process) doc.process = processDocument(event.process);
  if (event.user) doc.user = userDocument(event.user);
  if (event.source) doc.source = endpointDocument(event.source);
  if (event.destination) doc.destination = endpointDocument(event.destination);
  if (event.network) {
    doc.network = compact({
      transport: event.network.transport,
      type: event.network.type,
      direction: event.network.direction,
    });
  }
  if (event.file) doc.file = fileDocument(event.file);
  if (event.container) doc.container = compact({ id: event.container.id, runtime: event.container.runtime });
  if (Object.keys(event.vigil).length > 0) doc.vigil = { ...event.vigil };
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
    start: process.startUs ? new Date(Math.floor(process.startUs / 1000)).toISOString() : undefined,
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
