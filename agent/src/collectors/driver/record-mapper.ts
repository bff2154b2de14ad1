// Maps decoded /dev/vigil records to the agent's typed events (@vigil/proto
// Event) where the wire contract has a payload for them (exec, fork, exit,
// credential change, connect, file open for write), and to a generic, JSON-safe
// representation otherwise (DNS query, ptrace, file create/rename/unlink/chmod,
// memfd, module load, integrity findings, drops, ...). FILE_CREATE stays generic:
// the module emits it next to FILE_OPEN_WRITE for the same open(O_CREAT), and one
// open must not become two fileOpen events.

import { AddressFamily, type Event, type ExecStdio, type Process } from "@vigil/proto";
import {
  VIGIL_EXEC_ARGV_TRUNCATED,
  VIGIL_FD_CHAR,
  VIGIL_FD_FILE,
  VIGIL_FD_NONE,
  VIGIL_FD_OTHER,
  VIGIL_FD_PIPE,
  VIGIL_FD_SOCKET,
  VIGIL_FD_TTY,
  VIGIL_INTEG_CHECK_DONE,
  VIGIL_INTEG_HIDDEN_MODULE,
  VIGIL_INTEG_PROC_FOPS,
  VIGIL_INTEG_PROC_FOPS_HOOK,
  VIGIL_INTEG_PROC_IOPS,
  VIGIL_INTEG_PROC_ITERATE,
  VIGIL_INTEG_PROC_LOOKUP,
  VIGIL_INTEG_RAN_MODULES,
  VIGIL_INTEG_RAN_PROC,
  VIGIL_INTEG_RAN_SYSCALLS,
  VIGIL_INTEG_SYSCALL_HOOK,
} from "./event-table.gen";
import type { DriverAddress, DriverFieldValue, DriverRecord } from "./record-decoder";

const AF_INET = 2;
const AF_INET6 = 10;
const IPPROTO_TCP = 6;
const IPPROTO_UDP = 17;

/** x86_64 numbers of the calls that change credentials (CRED_CHANGE.syscall). */
const CRED_SYSCALLS: Record<number, string> = {
  59: "execve",
  105: "setuid",
  106: "setgid",
  113: "setreuid",
  114: "setregid",
  117: "setresuid",
  119: "setresgid",
  122: "setfsuid",
  123: "setfsgid",
  126: "capset",
  157: "prctl",
  272: "unshare",
  308: "setns",
  322: "execveat",
};

/** A record without a typed payload in the wire contract. Values are JSON-safe (u64 as decimal strings, blobs as hex). */
export interface DriverGenericEvent {
  timestampUs: number;
  collector: "driver";
  /** events.def name: "dns", "ptrace", "file_rename", ... */
  type: string;
  /** events.def category: process, network, file, kernel, integrity, meta. */
  category: string;
  process: Process;
  fields: Record<string, string | number | string[] | { family: number; port: number; ip: string }>;
}

export type MappedDriverRecord =
  | { kind: "event"; event: Event }
  | { kind: "generic"; event: DriverGenericEvent };

export function mapDriverRecord(record: DriverRecord): MappedDriverRecord {
  const payload = typedPayload(record);
  const process = processOf(record);
  const timestampUs = Number(record.header.tsRealNs / 1000n);
  if (payload !== undefined) {
    return { kind: "event", event: { timestampUs, collector: "driver", process, payload } };
  }
  return {
    kind: "generic",
    event: {
      timestampUs,
      collector: "driver",
      type: record.def.name,
      category: record.def.category,
      process,
      fields: record.def.key === "INTEGRITY" ? integrityFields(record.fields) : jsonFields(record.fields),
    },
  };
}

/** INTEGRITY kind values (vigil.h enum vigil_integrity_kind) as rules and people read them. */
const INTEGRITY_KINDS: Record<number, string> = {
  [VIGIL_INTEG_HIDDEN_MODULE]: "hidden_module",
  [VIGIL_INTEG_SYSCALL_HOOK]: "syscall_hook",
  [VIGIL_INTEG_PROC_FOPS_HOOK]: "proc_fops_hook",
  [VIGIL_INTEG_CHECK_DONE]: "check_done",
};

/** What a PROC_FOPS_HOOK index names (vigil.h enum vigil_integrity_proc_item). */
const PROC_ITEMS: Record<number, string> = {
  [VIGIL_INTEG_PROC_FOPS]: "/proc i_fop",
  [VIGIL_INTEG_PROC_ITERATE]: "/proc i_fop->iterate_shared",
  [VIGIL_INTEG_PROC_IOPS]: "/proc i_op",
  [VIGIL_INTEG_PROC_LOOKUP]: "/proc i_op->lookup",
};

/** CHECK_DONE address bits (VIGIL_INTEG_RAN_*): the checks that ran. */
const INTEGRITY_CHECKS: ReadonlyArray<readonly [number, string]> = [
  [VIGIL_INTEG_RAN_MODULES, "modules"],
  [VIGIL_INTEG_RAN_SYSCALLS, "syscalls"],
  [VIGIL_INTEG_RAN_PROC, "proc"],
];

/**
 * INTEGRITY (driver/README.md, "Integrity checks"): kind by name, the
 * address in hex, what was checked (`target`); a CHECK_DONE also spelled
 * out as findings, checks that ran, trigger and skipped checks.
 */
function integrityFields(f: Record<string, DriverFieldValue>): DriverGenericEvent["fields"] {
  const kind = num(f.kind);
  const index = num(f.index);
  const address = typeof f.address === "bigint" ? f.address : BigInt(num(f.address));
  const out: DriverGenericEvent["fields"] = {
    kind: INTEGRITY_KINDS[kind] ?? `kind_${kind}`,
    index,
    address: `0x${address.toString(16)}`,
    owner: str(f.owner),
    name: str(f.name),
  };
  switch (kind) {
    case VIGIL_INTEG_HIDDEN_MODULE:
      out.target = `module ${str(f.owner)}`;
      break;
    case VIGIL_INTEG_SYSCALL_HOOK:
      out.target = `sys_call_table[${index}]`;
      break;
    case VIGIL_INTEG_PROC_FOPS_HOOK:
      out.target = PROC_ITEMS[index] ?? `/proc item ${index}`;
      break;
    case VIGIL_INTEG_CHECK_DONE: {
      const ran = Number(address & 0xffn);
      out.findings = index;
      out.trigger = str(f.owner);
      out.checks = INTEGRITY_CHECKS.filter(([bit]) => (ran & bit) !== 0)
        .map(([, name]) => name)
        .join(" ");
      out.skipped = str(f.name);
      break;
    }
  }
  return out;
}

/**
 * EXEC: the file now running is `exe_path` (symlinks resolved, a script's
 * interpreter, "/memfd:name (deleted)"; schema 2), else - an older module, or a
 * path the kernel could not build - the path given to execve. That path is kept
 * as execFilename when it names the file differently (symlink, relative path,
 * /proc/self/exe, /dev/fd/N, #! script).
 */
function execPaths(fields: DriverRecord["fields"]): { executable: string; execFilename: string } {
  const filename = str(fields.filename);
  const resolved = str(fields.exe_path);
  if (resolved === "") return { executable: filename, execFilename: "" };
  return { executable: resolved, execFilename: filename === resolved ? "" : filename };
}

/** The acting process as the header describes it; richer context (parent, user name) is the collector's job. */
function processOf(record: DriverRecord): Process {
  const h = record.header;
  const exec = record.def.key === "EXEC";
  const paths = exec ? execPaths(record.fields) : { executable: "", execFilename: "" };
  return {
    pid: h.tgid,
    ppid: h.ppid,
    name: h.comm,
    executable: paths.executable,
    execFilename: paths.execFilename,
    args: exec ? strs(record.fields.argv) : [],
    workingDirectory: exec ? str(record.fields.cwd) : "",
    uid: h.uid,
    euid: h.euid,
    gid: h.gid,
    egid: h.gid,
    userName: "",
    startTimeUs: 0,
    tty: exec ? str(record.fields.tty) : "",
    sessionId: h.sid,
    containerId: "",
    parent: undefined,
    grandparent: undefined,
    entityId: "",
    sha256: "",
    loginUid: 0,
    loginUidSet: false,
    loginSessionId: 0,
    loginUserName: "",
  };
}

function typedPayload(record: DriverRecord): Event["payload"] {
  const f = record.fields;
  switch (record.def.key) {
    case "EXEC":
      return {
        $case: "exec",
        value: {
          filename: str(f.filename),
          argv: strs(f.argv),
          argvTruncated: (num(f.flags) & VIGIL_EXEC_ARGV_TRUNCATED) !== 0,
          result: 0,
          stdin: stdio(f, "stdin"),
          stdout: stdio(f, "stdout"),
          stderr: stdio(f, "stderr"),
        },
      };
    case "FORK":
      // Threads are not processes: they stay generic.
      if (num(f.is_thread) !== 0) return undefined;
      return { $case: "fork", value: { childPid: num(f.child_tgid) } };
    case "EXIT": {
      if (num(f.is_thread) !== 0) return undefined;
      // task->exit_code: wait(2) status layout (code << 8 | terminating signal).
      const status = num(f.exit_code);
      return { $case: "exit", value: { exitCode: (status >> 8) & 0xff, signal: status & 0x7f } };
    }
    case "CRED_CHANGE": {
      const nr = num(f.syscall);
      return {
        $case: "credentialChange",
        value: {
          syscall: CRED_SYSCALLS[nr] ?? `syscall_${nr}`,
          oldUid: num(f.old_uid),
          oldEuid: num(f.old_euid),
          oldGid: num(f.old_gid),
          newUid: num(f.new_uid),
          newEuid: num(f.new_euid),
          newGid: num(f.new_gid),
          result: 0,
          oldCapEffective: capSet(f.old_cap_effective),
          newCapEffective: capSet(f.new_cap_effective),
        },
      };
    }
    case "CONNECT": {
      const local = addr(f.local);
      const remote = addr(f.remote);
      return {
        $case: "connect",
        value: {
          family: family(remote.family || local.family),
          transport: transport(num(f.protocol)),
          sourceIp: local.ip,
          sourcePort: local.port,
          destinationIp: remote.ip,
          destinationPort: remote.port,
          result: num(f.result),
          unixPath: "",
        },
      };
    }
    case "FILE_OPEN_WRITE":
      return {
        $case: "fileOpen",
        value: {
          path: str(f.path),
          flags: num(f.flags),
          mode: num(f.mode),
          result: 0,
          created: false,
        },
      };
    default:
      return undefined;
  }
}

/** EXEC *_kind values (vigil.h enum vigil_fd_kind) as ExecStdio.type. */
const FD_KINDS: Record<number, string> = {
  [VIGIL_FD_NONE]: "none",
  [VIGIL_FD_FILE]: "file",
  [VIGIL_FD_PIPE]: "pipe",
  [VIGIL_FD_TTY]: "tty",
  [VIGIL_FD_SOCKET]: "socket",
  [VIGIL_FD_CHAR]: "char",
  [VIGIL_FD_OTHER]: "other",
};

/** fd 0, 1 or 2 of an EXEC: its kind, and for an inet socket its bound and (when connected) peer address. */
function stdio(f: DriverRecord["fields"], fd: "stdin" | "stdout" | "stderr"): ExecStdio | undefined {
  const kind = f[`${fd}_kind`];
  if (kind === undefined) return undefined;
  const local = endpoint(f[`${fd}_local`]);
  const remote = endpoint(f[`${fd}_remote`]);
  return {
    type: FD_KINDS[num(kind)] ?? `kind_${num(kind)}`,
    localIp: local.ip,
    localPort: local.port,
    remoteIp: remote.ip,
    remotePort: remote.port,
  };
}

/** An inet address that is set: not family 0, not the unspecified address with port 0 (unbound, unconnected). */
function endpoint(value: DriverFieldValue | undefined): { ip: string; port: number } {
  const a = addr(value);
  if (a.family !== AF_INET && a.family !== AF_INET6) return { ip: "", port: 0 };
  if (a.port === 0 && (a.ip === "0.0.0.0" || a.ip === "::")) return { ip: "", port: 0 };
  return { ip: a.ip, port: a.port };
}

function family(af: number): AddressFamily {
  if (af === AF_INET) return AddressFamily.ADDRESS_FAMILY_INET;
  if (af === AF_INET6) return AddressFamily.ADDRESS_FAMILY_INET6;
  return AddressFamily.ADDRESS_FAMILY_UNSPECIFIED;
}

function transport(protocol: number): string {
  if (protocol === IPPROTO_TCP) return "tcp";
  if (protocol === IPPROTO_UDP) return "udp";
  return protocol === 0 ? "" : `ip_${protocol}`;
}

function num(value: DriverFieldValue | undefined): number {
  if (typeof value === "number") return value;
  if (typeof value === "bigint") return Number(value);
  return 0;
}

/** A capability set (u64, kept to the 53 bits a number holds exactly; the kernel uses 41); undefined when the record lacks it. */
function capSet(value: DriverFieldValue | undefined): number | undefined {
  if (typeof value === "bigint") return Number(value & 0x1f_ffff_ffff_ffffn);
  return typeof value === "number" ? value : undefined;
}

function str(value: DriverFieldValue | undefined): string {
  return typeof value === "string" ? value : "";
}

function strs(value: DriverFieldValue | undefined): string[] {
  return Array.isArray(value) ? value : [];
}

function addr(value: DriverFieldValue | undefined): DriverAddress {
  if (value !== undefined && typeof value === "object" && "family" in value) return value;
  return { family: 0, port: 0, ip: "" };
}

function jsonFields(fields: Record<string, DriverFieldValue>): DriverGenericEvent["fields"] {
  const out: DriverGenericEvent["fields"] = {};
  for (const [name, value] of Object.entries(fields)) {
    if (typeof value === "bigint") out[name] = value.toString();
    else if (value instanceof Uint8Array) out[name] = Buffer.from(value).toString("hex");
    else out[name] = value;
  }
  return out;
}
