import { posix } from "node:path";
import { processEntityId } from "@vigil/common";
import {
  AddressFamily,
  type CanonicalEvent,
  type EcsEvent,
  EcsProcess,
  type Event,
  type ExecStdio,
  type Process,
} from "@vigil/proto";
import type { AgentIdentity } from "./agent-identity";
import { addedCapabilities, capabilityNames } from "./capabilities";
import { octalMode, octalModeField } from "./file-mode";
import { decodeOpenFlags, isWriteOpen } from "./open-flags";
import { type ParentTable, parentFields } from "./parent-table";

/** Where one event sits in the agent's stream; makes event.id unique and stable. */
export interface EventPosition {
  sequence: number;
  index: number;
  receivedUs: number;
}

/**
 * Agent event → canonical (ECS-shaped) event. Pure: the same input always
 * gives the same output, which is what lets a resent batch dedup cleanly.
 * Returns undefined for an event without a payload (nothing to say).
 * host and agent are left out: they are the batch's (BusEventBatch.host/agent,
 * from the same identity), encoded once per batch rather than per event; so
 * is the parent process when a batch's `parents` table is given.
 */
export function normalizeEvent(
  identity: AgentIdentity,
  event: Event,
  position: EventPosition,
  parents?: ParentTable,
): CanonicalEvent | undefined {
  const payload = event.payload;
  if (!payload) return undefined;
  const canonical: CanonicalEvent = {
    timestampUs: event.timestampUs || position.receivedUs,
    event: baseEvent(identity, event, position),
    host: undefined,
    agent: undefined,
    process: event.process ? processFields(identity.agentId, event.process, parents) : undefined,
    user: event.process ? userFields(event.process) : undefined,
    source: undefined,
    destination: undefined,
    network: undefined,
    file: undefined,
    container: event.process?.containerId ? { id: event.process.containerId, runtime: "" } : undefined,
    vigil: {},
  };
  const ecsEvent = canonical.event as EcsEvent;
  switch (payload.$case) {
    case "exec": {
      const exec = payload.value;
      setAction(ecsEvent, ["process"], ["start"], "exec", exec.result);
      const process = ensureProcess(canonical);
      // process.executable is the file that runs (symlinks resolved, a script's interpreter) when the
      // collector knows it; exec.filename is the path execve was given, kept when it names it differently.
      if (!process.executable) process.executable = exec.filename;
      if (!process.execFilename && exec.filename && exec.filename !== process.executable) {
        process.execFilename = exec.filename;
      }
      if (exec.argv.length > 0) setArgs(process, exec.argv);
      if (!process.name && process.executable) process.name = posix.basename(process.executable);
      if (exec.argvTruncated) canonical.vigil.args_truncated = "true";
      setStdio(canonical.vigil, "stdin", exec.stdin);
      setStdio(canonical.vigil, "stdout", exec.stdout);
      setStdio(canonical.vigil, "stderr", exec.stderr);
      break;
    }
    case "exit": {
      setAction(ecsEvent, ["process"], ["end"], "exit", 0);
      const process = ensureProcess(canonical);
      process.exitCode = payload.value.exitCode;
      process.hasExitCode = true;
      if (payload.value.signal) canonical.vigil.signal = String(payload.value.signal);
      break;
    }
    case "fork":
      setAction(ecsEvent, ["process"], ["start"], "fork", 0);
      canonical.vigil.child_pid = String(payload.value.childPid);
      break;
    case "processSeen":
      setAction(ecsEvent, ["process"], ["info"], "process-seen", 0);
      break;
    case "connect": {
      const connect = payload.value;
      setAction(ecsEvent, ["network"], ["connection", "start"], "connect", connect.result);
      const networkType =
        connect.family === AddressFamily.ADDRESS_FAMILY_INET6
          ? "ipv6"
          : connect.family === AddressFamily.ADDRESS_FAMILY_UNIX
            ? "unix"
            : "ipv4";
      canonical.network = { transport: connect.transport, type: networkType, direction: "egress" };
      canonical.destination = {
        ip: connect.destinationIp,
        port: connect.destinationPort,
        address: connect.unixPath || connect.destinationIp,
      };
      if (connect.sourceIp || connect.sourcePort) {
        canonical.source = { ip: connect.sourceIp, port: connect.sourcePort, address: connect.sourceIp };
      }
      break;
    }
    case "fileOpen": {
      const open = payload.value;
      const writes = isWriteOpen(open.flags);
      const type = !writes ? "access" : open.created ? "creation" : "change";
      setAction(ecsEvent, ["file"], [type], writes ? "open-write" : "open-read", open.result);
      canonical.file = {
        path: open.path,
        name: posix.basename(open.path),
        directory: posix.dirname(open.path),
        extension: extensionOf(open.path),
        flags: decodeOpenFlags(open.flags),
        mode: octalMode(open.mode),
      };
      break;
    }
    case "credentialChange": {
      const change = payload.value;
      setAction(ecsEvent, ["process"], ["change"], "credential-change", change.result);
      canonical.vigil = {
        ...canonical.vigil,
        syscall: change.syscall,
        old_uid: String(change.oldUid),
        old_euid: String(change.oldEuid),
        old_gid: String(change.oldGid),
        new_uid: String(change.newUid),
        new_euid: String(change.newEuid),
        new_gid: String(change.newGid),
      };
      setCapabilities(canonical.vigil, change.oldCapEffective, change.newCapEffective);
      if (canonical.user) canonical.user.changes = { id: String(change.newEuid), name: "" };
      break;
    }
    case "kernel": {
      const kernel = payload.value;
      const [category, type] = kernelCategory(kernel.category, kernel.type);
      setAction(
        ecsEvent,
        [category],
        [type],
        kernel.type.replaceAll("_", "-"),
        Number(kernel.fields.result ?? 0),
      );
      canonical.vigil = { ...canonical.vigil, ...kernel.fields };
      const path = kernel.fields.path ?? kernel.fields.new_path;
      if (path) {
        canonical.file = {
          path,
          name: posix.basename(path),
          directory: posix.dirname(path),
          extension: extensionOf(path),
          flags: [],
          mode: kernelFileMode(kernel.type, kernel.fields, canonical.vigil),
        };
      }
      break;
    }
    case "spoolOverflow": {
      // The agent dropped events to keep its spool within its bound.
      const overflow = payload.value;
      setAction(ecsEvent, ["host"], ["info"], "spool-overflow", 0);
      canonical.vigil = {
        ...canonical.vigil,
        events_lost: String(overflow.eventsLost),
        batches_lost: String(overflow.batchesLost),
        bytes_freed: String(overflow.bytesFreed),
        total_events_lost: String(overflow.totalEventsLost),
        oldest_lost_us: String(overflow.oldestLostUs),
        newest_lost_us: String(overflow.newestLostUs),
        spool_max_bytes: String(overflow.maxBytes),
        spool_bytes: String(overflow.spoolBytes),
      };
      for (const [reason, count] of Object.entries(overflow.lostByReason)) {
        canonical.vigil[`lost.${reason}`] = String(count);
      }
      break;
    }
    default: {
      const unreachable: never = payload;
      return unreachable;
    }
  }
  return canonical;
}

/** ECS event.type for driver file records; other driver records are "info". */
const KERNEL_FILE_TYPES: Record<string, string> = {
  file_create: "creation",
  file_rename: "change",
  file_unlink: "deletion",
  file_chmod: "change",
};

/**
 * vigil.old_cap_effective / vigil.new_cap_effective: the effective capability
 * sets as names ("CAP_SETUID CAP_SYS_ADMIN"; absent when empty), and
 * vigil.cap_added: the ones the change gave (absent when none). Nothing when
 * the collector did not see the sets (only vigil.ko does).
 */
function setCapabilities(vigil: Record<string, string>, before?: number, after?: number): void {
  if (before === undefined || after === undefined) return;
  const had = capabilityNames(before).join(" ");
  const has = capabilityNames(after).join(" ");
  const added = addedCapabilities(before, after).join(" ");
  if (had) vigil.old_cap_effective = had;
  if (has) vigil.new_cap_effective = has;
  if (added) vigil.cap_added = added;
}

/**
 * file.mode of a driver file record: a chmod's new mode (its old and new modes in
 * vigil.* become octal too, so a rule can tell a setuid bit newly set), a
 * creation's mode (vigil.mode too); "" for records without one.
 */
function kernelFileMode(type: string, fields: Record<string, string>, vigil: Record<string, string>): string {
  switch (type) {
    case "file_chmod": {
      const mode = octalModeField(fields.new_mode);
      const old = octalModeField(fields.old_mode);
      if (mode) vigil.new_mode = mode;
      if (old) vigil.old_mode = old;
      return mode;
    }
    case "file_create": {
      const mode = octalModeField(fields.mode);
      if (mode) vigil.mode = mode;
      return mode;
    }
    default:
      return "";
  }
}

/** Driver category (events.def) → ECS event.category and event.type. */
function kernelCategory(category: string, type: string): [string, string] {
  switch (category) {
    case "file":
      return ["file", KERNEL_FILE_TYPES[type] ?? "info"];
    case "network":
      return ["network", type === "dns" ? "protocol" : "connection"];
    case "kernel":
      return ["driver", "info"];
    case "integrity":
      return ["intrusion_detection", "indicator"];
    case "process":
      return ["process", "info"];
    default:
      return ["host", "info"];
  }
}

function baseEvent(identity: AgentIdentity, event: Event, position: EventPosition): EcsEvent {
  return {
    id: `${identity.agentId}:${position.sequence}:${position.index}`,
    kind: "event",
    category: [],
    type: [],
    action: "",
    outcome: "",
    module: "vigil",
    dataset: event.collector ? `vigil.${event.collector}` : "vigil",
    sequence: position.sequence,
    ingestedUs: position.receivedUs,
  };
}

/** A non-blocking connect answers EINPROGRESS: neither success nor failure yet. */
const EINPROGRESS = -115;

function setAction(
  target: EcsEvent,
  category: string[],
  type: string[],
  action: string,
  result: number,
): void {
  target.category = category;
  target.type = type;
  target.action = action;
  target.outcome = result === EINPROGRESS ? "unknown" : result < 0 ? "failure" : "success";
}

/**
 * vigil.<fd>_type (none, file, pipe, tty, socket, char, other) and, for an inet socket,
 * vigil.<fd>_local_ip / _local_port and, when connected, vigil.<fd>_remote_ip / _remote_port.
 * Nothing when the collector does not know (only the kernel driver reports them).
 */
function setStdio(
  vigil: Record<string, string>,
  fd: "stdin" | "stdout" | "stderr",
  io: ExecStdio | undefined,
): void {
  if (!io?.type) return;
  vigil[`${fd}_type`] = io.type;
  if (io.localIp) {
    vigil[`${fd}_local_ip`] = io.localIp;
    vigil[`${fd}_local_port`] = String(io.localPort);
  }
  if (io.remoteIp) {
    vigil[`${fd}_remote_ip`] = io.remoteIp;
    vigil[`${fd}_remote_port`] = String(io.remotePort);
  }
}

function ensureProcess(canonical: CanonicalEvent): EcsProcess {
  canonical.process ??= EcsProcess.create();
  return canonical.process;
}

function processFields(agentId: string, process: Process, parents: ParentTable | undefined): EcsProcess {
  const fields = EcsProcess.create();
  fields.pid = process.pid;
  // The agent's process cache sends the id; older agents get the same value computed here.
  fields.entityId = process.entityId || processEntityId(agentId, process.pid, process.startTimeUs);
  fields.name = process.name || (process.executable ? posix.basename(process.executable) : "");
  fields.executable = process.executable;
  fields.execFilename = process.execFilename;
  setArgs(fields, process.args);
  fields.workingDirectory = process.workingDirectory;
  fields.startUs = process.startTimeUs;
  fields.sessionLeaderPid = process.sessionId;
  fields.tty = process.tty ? { name: process.tty } : undefined;
  fields.hash = process.sha256 ? { sha256: process.sha256 } : undefined;
  if (process.loginUidSet) {
    fields.loginUser = { id: String(process.loginUid), name: process.loginUserName };
  }
  fields.loginSessionId = process.loginSessionId;
  fields.user = {
    id: String(process.uid),
    name: process.userName,
    group: undefined,
    effective: undefined,
    changes: undefined,
  };
  if (process.parent && parents) {
    fields.parentIndex = parents.indexOf(process.parent, process.grandparent);
  } else if (process.parent) {
    fields.parent = parentFields(agentId, process.parent);
    if (process.grandparent) fields.parent.parent = parentFields(agentId, process.grandparent);
  } else if (process.ppid) {
    fields.parent = { ...parentFields(agentId, undefined), pid: process.ppid };
  }
  return fields;
}

function userFields(process: Process): CanonicalEvent["user"] {
  return {
    id: String(process.uid),
    name: process.userName,
    group: { id: String(process.gid), name: "" },
    effective: { id: String(process.euid), name: "" },
    changes: undefined,
  };
}

function setArgs(process: EcsProcess, args: string[]): void {
  process.args = args;
  process.argsCount = args.length;
  process.commandLine = args.join(" ");
}

function extensionOf(path: string): string {
  const ext = posix.extname(path);
  return ext ? ext.slice(1) : "";
}
