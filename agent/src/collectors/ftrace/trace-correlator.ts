// Turns decoded trace records into Vigil events. Records of one thread arrive
// as uprobe (user strings) -> sys_enter (flags, fds) -> sys_exit (result); the
// call is assembled per tid and emitted once, on the exit (or on
// sched_process_exec for a successful exec).

import { readlinkSync, statSync } from "node:fs";
import { posix } from "node:path";
import { AddressFamily, type Event } from "@vigil/proto";
import type { ProcessCache } from "../../context/process-cache";
import { parseProcStat } from "../proc/proc-stat";
import { readText } from "../proc/process-reader";
import type { ProcessSnapshot } from "../proc/process-snapshot";
import type { EventSink } from "../types";
import { CallKind, PendingCall } from "./pending-call";
import { AT_FDCWD } from "./probe-plan";
import type { RecordDecoder } from "./record-decoder";
import { RecordKind } from "./record-kind";
import { ipv4FromLittleEndian, ipv6FromBytes, portFromLittleEndian } from "./sockaddr";
import { lookupSocket } from "./socket-lookup";

const COMMON_PID_OFFSET = 4;
const CLONE_PARENT = 0x8000;
const CLONE_THREAD = 0x10000;
const O_CREAT = 0x40;
const O_EXCL = 0x80;
const AF_UNIX = 1;
const AF_INET = 2;
const AF_INET6 = 10;
const TASK_COMM_LEN = 15;

export interface CorrelatorOptions {
  table: ProcessCache;
  procRoot: string;
  /** Threads of the agent itself: their records are dropped (the agent's own /proc reads, spool writes). */
  ownTids: Set<number>;
  maxPending: number;
  pendingTimeoutMs: number;
  maxThreads: number;
}

export class TraceCorrelator {
  readonly counters = {
    records: 0,
    ownRecords: 0,
    events: 0,
    exec: 0,
    execFailed: 0,
    execArgvFromProc: 0,
    execArgvMissing: 0,
    exit: 0,
    fileOpen: 0,
    connect: 0,
    credentialChange: 0,
    pendingStale: 0,
    pendingOverflow: 0,
    pendingMismatch: 0,
    openPathUnknown: 0,
    connectAddressUnknown: 0,
    connectFromProc: 0,
  };
  private readonly pending = new Map<number, PendingCall>();
  /** tid -> tgid for threads created while tracing. */
  private readonly threads = new Map<number, number>();
  /** tgid -> status passed to _exit(). */
  private readonly exitCodes = new Map<number, number>();
  private readonly table: ProcessCache;
  private readonly procRoot: string;
  private readonly ownTids: Set<number>;
  private readonly maxPending: number;
  private readonly pendingTimeoutNs: number;
  private readonly maxThreads: number;
  /** Added to trace-clock µs (CLOCK_MONOTONIC) to get wall-clock µs. */
  private wallOffsetUs = 0;
  private latestNs = 0;

  constructor(
    private readonly sink: EventSink,
    options: CorrelatorOptions,
  ) {
    this.table = options.table;
    this.procRoot = options.procRoot;
    this.ownTids = options.ownTids;
    this.maxPending = options.maxPending;
    this.pendingTimeoutNs = options.pendingTimeoutMs * 1e6;
    this.maxThreads = options.maxThreads;
  }

  setWallOffsetUs(offsetUs: number): void {
    this.wallOffsetUs = offsetUs;
  }

  get pendingCount(): number {
    return this.pending.size;
  }

  noteThread(tid: number, tgid: number): void {
    if (tid === tgid) return;
    this.threads.set(tid, tgid);
    if (this.threads.size > this.maxThreads) {
      const oldest = this.threads.keys().next().value;
      if (oldest !== undefined) this.threads.delete(oldest);
    }
  }

  handle(decoder: RecordDecoder, buffer: Buffer, base: number, length: number, timestampNs: number): void {
    this.counters.records++;
    this.latestNs = timestampNs;
    const tid = buffer.readInt32LE(base + COMMON_PID_OFFSET);
    if (decoder.kind === RecordKind.NewTask) {
      this.onNewTask(decoder, buffer, base, tid, timestampNs);
      return;
    }
    if (this.ownTids.has(tid)) {
      this.counters.ownRecords++;
      return;
    }
    switch (decoder.kind) {
      case RecordKind.SchedExec:
        this.onExec(decoder, buffer, base, length, timestampNs);
        return;
      case RecordKind.SchedExit:
        this.onExit(decoder, buffer, base, tid, timestampNs);
        return;
      case RecordKind.ExitExec:
        this.onExecFailed(decoder.signedInt(0, buffer, base), tid, timestampNs);
        return;
      case RecordKind.ProbeExec:
        this.onProbeExec(decoder, buffer, base, length, tid, timestampNs);
        return;
      case RecordKind.ProbeOpen: {
        const call = this.begin(tid, CallKind.Open, timestampNs);
        call.probed = true;
        call.path = decoder.string(decoder.stringOffset, buffer, base, length) ?? "";
        call.dfd = decoder.signedInt(0, buffer, base);
        call.flags = decoder.int(1, buffer, base);
        call.mode = decoder.int(2, buffer, base);
        return;
      }
      case RecordKind.EnterOpen: {
        const call = this.continueOrBegin(tid, CallKind.Open, timestampNs);
        call.dfd = decoder.signedInt(0, buffer, base);
        call.flags = decoder.int(1, buffer, base);
        call.mode = decoder.int(2, buffer, base);
        return;
      }
      case RecordKind.ExitOpen:
        this.onOpenExit(decoder.signedInt(0, buffer, base), tid, timestampNs);
        return;
      case RecordKind.ProbeConnect:
        this.onProbeConnect(decoder, buffer, base, length, tid, timestampNs);
        return;
      case RecordKind.EnterConnect: {
        const call = this.continueOrBegin(tid, CallKind.Connect, timestampNs);
        call.fd = decoder.signedInt(0, buffer, base);
        return;
      }
      case RecordKind.ExitConnect:
        this.onConnectExit(decoder.signedInt(0, buffer, base), tid, timestampNs);
        return;
      case RecordKind.EnterSetId: {
        const call = this.begin(tid, CallKind.SetId, timestampNs);
        call.syscall = decoder.syscall;
        call.arg0 = decoder.int(0, buffer, base);
        call.arg1 = decoder.int(1, buffer, base);
        call.arg2 = decoder.int(2, buffer, base);
        return;
      }
      case RecordKind.ExitSetId:
        this.onSetIdExit(decoder.signedInt(0, buffer, base), tid, timestampNs);
        return;
      case RecordKind.ProbeChdir: {
        const call = this.begin(tid, CallKind.Chdir, timestampNs);
        call.probed = true;
        call.path = decoder.string(decoder.stringOffset, buffer, base, length) ?? "";
        return;
      }
      case RecordKind.EnterChdir: {
        const call = this.continueOrBegin(tid, CallKind.Chdir, timestampNs);
        if (decoder.offsets[0] >= 0) call.fd = decoder.signedInt(0, buffer, base);
        return;
      }
      case RecordKind.ExitChdir:
        this.onChdirExit(decoder.signedInt(0, buffer, base), tid);
        return;
      case RecordKind.ProbeExit:
        this.exitCodes.set(this.tgidOf(tid), decoder.signedInt(0, buffer, base));
        return;
      default: {
        const unknown: never = decoder.kind;
        throw new Error(`unhandled record kind ${unknown}`);
      }
    }
  }

  /** Drops calls whose exit never came (thread killed mid-call, filtered exit). Run once per poll. */
  sweep(): void {
    if (this.pending.size === 0) return;
    const cutoff = this.latestNs - this.pendingTimeoutNs;
    for (const [tid, call] of this.pending) {
      if (call.timestampNs >= cutoff) break; // Insertion order is time order.
      this.pending.delete(tid);
      this.counters.pendingStale++;
    }
  }

  private onNewTask(
    decoder: RecordDecoder,
    buffer: Buffer,
    base: number,
    parentTid: number,
    timestampNs: number,
  ) {
    const child = decoder.signedInt(0, buffer, base);
    const flags = decoder.int(1, buffer, base);
    if ((flags & CLONE_THREAD) !== 0) {
      if (this.ownTids.has(parentTid)) this.ownTids.add(child);
      else this.noteThread(child, this.tgidOf(parentTid));
      return;
    }
    let parent = this.tgidOf(parentTid);
    if ((flags & CLONE_PARENT) !== 0) parent = this.table.get(parent)?.ppid ?? parent;
    this.table.fork(parent, child, this.wallUs(timestampNs));
  }

  private onProbeExec(
    decoder: RecordDecoder,
    buffer: Buffer,
    base: number,
    length: number,
    tid: number,
    ts: number,
  ) {
    const call = this.begin(tid, CallKind.Exec, ts);
    call.probed = true;
    call.path = decoder.string(decoder.stringOffset, buffer, base, length) ?? "";
    const argv: string[] = [];
    let complete = false;
    for (let slot = 0; slot < decoder.argvStrings.length; slot++) {
      if (!decoder.nonZero64(decoder.argvPointers[slot], buffer, base)) {
        complete = true;
        break;
      }
      const arg = decoder.string(decoder.argvStrings[slot], buffer, base, length);
      if (arg === undefined) break; // Not resident in memory: the rest is unknown.
      argv.push(arg);
    }
    if (!complete && argv.length === decoder.argvStrings.length) {
      complete = !decoder.nonZero64(decoder.offsets[0], buffer, base);
    }
    call.argv = argv;
    call.argvTruncated = !complete;
  }

  private onExec(decoder: RecordDecoder, buffer: Buffer, base: number, length: number, timestampNs: number) {
    const pid = decoder.signedInt(0, buffer, base);
    const oldTid = decoder.signedInt(1, buffer, base);
    const filename = decoder.string(decoder.stringOffset, buffer, base, length) ?? "";
    const call = this.take(oldTid, CallKind.Exec);
    if (oldTid !== pid) this.threads.delete(oldTid);
    const before = this.table.getOrCreate(pid);
    const cwd = before.cwd;
    // /proc shows the process as it is now, maybe after later setuid calls: the identity
    // at exec is the one before it, changed only by the file's set-id bits.
    const { uid, euid, gid, egid } = before;
    // Alive: /proc has the post-exec credentials (setuid binaries) and the resolved exe.
    const refreshed = this.table.refresh(pid);
    const live = refreshed !== undefined && refreshed !== before && !refreshed.exited;
    const snapshot = refreshed ?? before;
    if (snapshot.cwd === "") snapshot.cwd = cwd;
    snapshot.exited = false;
    snapshot.exitedAtMs = 0;
    const executable = cwd !== "" && !filename.startsWith("/") ? posix.resolve(cwd, filename) : filename;
    if (!live || snapshot.executable === "") snapshot.executable = executable;
    snapshot.name = posix.basename(filename).slice(0, TASK_COMM_LEN);
    snapshot.uid = uid;
    snapshot.euid = euid;
    snapshot.gid = gid;
    snapshot.egid = egid;
    applySetIdBits(snapshot, snapshot.executable);
    let argv: string[];
    let truncated: boolean;
    if (call?.probed === true && !(call.argvTruncated && live)) {
      argv = call.argv;
      truncated = call.argvTruncated;
    } else if (live && snapshot.args.length > 0) {
      // Statically linked or a raw syscall: no uprobe saw argv, but the process is still there.
      argv = snapshot.args.slice();
      truncated = false;
      this.counters.execArgvFromProc++;
    } else {
      argv = [filename];
      truncated = true;
      this.counters.execArgvMissing++;
    }
    snapshot.args = argv;
    this.counters.exec++;
    this.emit(timestampNs, snapshot, {
      $case: "exec",
      value: {
        filename,
        argv,
        argvTruncated: truncated,
        result: 0,
        stdin: undefined,
        stdout: undefined,
        stderr: undefined,
      },
    });
  }

  private onExecFailed(result: number, tid: number, timestampNs: number) {
    const call = this.take(tid, CallKind.Exec);
    // Success was reported at sched_process_exec; a failure without a uprobe has no filename to report.
    if (result >= 0 || call === undefined || !call.probed) return;
    this.counters.execFailed++;
    this.emit(timestampNs, this.processOf(tid), {
      $case: "exec",
      value: {
        filename: call.path,
        argv: call.argv,
        argvTruncated: call.argvTruncated,
        result,
        stdin: undefined,
        stdout: undefined,
        stderr: undefined,
      },
    });
  }

  /**
   * sched_process_exit carries no exit status. Knowable: the status a process
   * passed to libc _exit() (uprobe), or the wait status in /proc/<pid>/stat
   * while the zombie is unreaped. Otherwise (signals, static binaries, already
   * reaped) the code is reported as 0.
   */
  private onExit(decoder: RecordDecoder, buffer: Buffer, base: number, tid: number, timestampNs: number) {
    const exitingTid = decoder.signedInt(0, buffer, base) || tid;
    const groupDead = decoder.int(1, buffer, base);
    const tgid = this.tgidOf(exitingTid);
    this.pending.delete(exitingTid);
    this.threads.delete(exitingTid);
    // Without group_dead (older kernels) the leader's exit stands for the process.
    if (groupDead === 0 || (groupDead < 0 && tgid !== exitingTid)) return;
    let exitCode = this.exitCodes.get(tgid);
    let signal = 0;
    this.exitCodes.delete(tgid);
    if (exitCode === undefined) {
      const stat = parseStatOf(this.procRoot, tgid);
      if (stat !== undefined && stat.state === "Z") {
        exitCode = (stat.exitCode >> 8) & 0xff;
        signal = stat.exitCode & 0x7f;
      }
    }
    const snapshot = this.table.getOrCreate(tgid);
    this.table.markExited(tgid);
    this.counters.exit++;
    this.emit(timestampNs, snapshot, { $case: "exit", value: { exitCode: exitCode ?? 0, signal } });
  }

  private onOpenExit(result: number, tid: number, timestampNs: number) {
    const call = this.take(tid, CallKind.Open);
    if (call === undefined) return; // A read of a path nobody watches: filtered in the kernel.
    const snapshot = this.processOf(tid);
    let path = call.probed ? this.resolvePath(snapshot, call.dfd, call.path) : "";
    if (!path.startsWith("/") && result >= 0) {
      // No uprobe (static binary) or unknown base directory: ask the live fd.
      const live = readLinkOrEmpty(`${this.procRoot}/${snapshot.pid}/fd/${result}`);
      if (live.startsWith("/")) path = live;
    }
    if (path === "") {
      this.counters.openPathUnknown++;
      return;
    }
    this.counters.fileOpen++;
    this.emit(timestampNs, snapshot, {
      $case: "fileOpen",
      value: {
        path,
        flags: call.flags >>> 0,
        mode: call.mode,
        result,
        // Only O_CREAT|O_EXCL success proves the file is new; plain O_CREAT may have opened an existing one.
        created: result >= 0 && (call.flags & (O_CREAT | O_EXCL)) === (O_CREAT | O_EXCL),
      },
    });
  }

  private onProbeConnect(
    decoder: RecordDecoder,
    buffer: Buffer,
    base: number,
    length: number,
    tid: number,
    ts: number,
  ) {
    const call = this.begin(tid, CallKind.Connect, ts);
    call.probed = true;
    call.fd = decoder.signedInt(0, buffer, base);
    call.family = decoder.int(1, buffer, base);
    call.port = portFromLittleEndian(decoder.int(2, buffer, base));
    if (call.family === AF_INET) call.address = ipv4FromLittleEndian(decoder.int(3, buffer, base));
    else if (call.family === AF_INET6) call.address = ipv6FromBytes(buffer, base + decoder.offsets[4]);
    else if (call.family === AF_UNIX) {
      call.port = 0;
      call.path = decoder.string(decoder.stringOffset, buffer, base, length) ?? "";
    }
  }

  private onConnectExit(result: number, tid: number, timestampNs: number) {
    const call = this.take(tid, CallKind.Connect);
    if (call === undefined) return;
    const snapshot = this.processOf(tid);
    if (!call.probed) {
      // Not through libc (Go, static): the sockaddr was only a user pointer; ask /proc while the socket lives.
      this.onUnprobedConnect(call.fd, result, snapshot, timestampNs);
      return;
    }
    this.counters.connect++;
    const family =
      call.family === AF_INET
        ? AddressFamily.ADDRESS_FAMILY_INET
        : call.family === AF_INET6
          ? AddressFamily.ADDRESS_FAMILY_INET6
          : AddressFamily.ADDRESS_FAMILY_UNIX;
    this.emit(timestampNs, snapshot, {
      $case: "connect",
      value: {
        family,
        transport: "",
        sourceIp: "",
        sourcePort: 0,
        destinationIp: call.address,
        destinationPort: call.port,
        result,
        unixPath: call.path,
      },
    });
  }

  private onUnprobedConnect(fd: number, result: number, snapshot: ProcessSnapshot, timestampNs: number) {
    const socket = fd >= 0 ? lookupSocket(this.procRoot, snapshot.pid, fd) : undefined;
    if (socket === undefined) {
      this.counters.connectAddressUnknown++;
      return;
    }
    this.counters.connect++;
    this.counters.connectFromProc++;
    this.emit(timestampNs, snapshot, {
      $case: "connect",
      value: {
        family:
          socket.family === "inet" ? AddressFamily.ADDRESS_FAMILY_INET : AddressFamily.ADDRESS_FAMILY_INET6,
        transport: socket.transport,
        sourceIp: socket.sourceIp,
        sourcePort: socket.sourcePort,
        destinationIp: socket.destinationIp,
        destinationPort: socket.destinationPort,
        result,
        unixPath: "",
      },
    });
  }

  private onSetIdExit(result: number, tid: number, timestampNs: number) {
    const call = this.take(tid, CallKind.SetId);
    if (call === undefined) return;
    const snapshot = this.processOf(tid);
    const old = { uid: snapshot.uid, euid: snapshot.euid, gid: snapshot.gid };
    const next = applySetId(call, snapshot);
    if (result === 0) {
      snapshot.uid = next.uid;
      snapshot.euid = next.euid;
      snapshot.gid = next.gid;
      if (call.syscall === "setregid" || call.syscall === "setresgid") {
        if (call.arg1 !== UNCHANGED) snapshot.egid = call.arg1;
      }
    }
    this.counters.credentialChange++;
    this.emit(timestampNs, snapshot, {
      $case: "credentialChange",
      value: {
        syscall: call.syscall,
        oldUid: old.uid,
        oldEuid: old.euid,
        oldGid: old.gid,
        newUid: next.uid,
        newEuid: next.euid,
        newGid: next.gid,
        result,
      },
    });
  }

  private onChdirExit(result: number, tid: number) {
    const call = this.take(tid, CallKind.Chdir);
    if (call === undefined || result !== 0) return;
    const snapshot = this.processOf(tid);
    if (call.probed && (call.path.startsWith("/") || snapshot.cwd !== "")) {
      snapshot.cwd = posix.resolve(snapshot.cwd || "/", call.path);
    } else {
      const live = readLinkOrEmpty(`${this.procRoot}/${snapshot.pid}/cwd`);
      if (live !== "") snapshot.cwd = live;
    }
  }

  private resolvePath(snapshot: ProcessSnapshot, dfd: number, path: string): string {
    if (path.startsWith("/")) return posix.normalize(path);
    if (path === "") return "";
    let baseDir: string;
    if (dfd === AT_FDCWD) {
      baseDir = snapshot.cwd !== "" ? snapshot.cwd : readLinkOrEmpty(`${this.procRoot}/${snapshot.pid}/cwd`);
    } else {
      baseDir = readLinkOrEmpty(`${this.procRoot}/${snapshot.pid}/fd/${dfd}`);
    }
    return baseDir.startsWith("/") ? posix.resolve(baseDir, path) : path;
  }

  private processOf(tid: number): ProcessSnapshot {
    return this.table.getOrCreate(this.tgidOf(tid));
  }

  private tgidOf(tid: number): number {
    return this.threads.get(tid) ?? tid;
  }

  private begin(tid: number, kind: CallKind, timestampNs: number): PendingCall {
    const call = new PendingCall(kind);
    call.timestampNs = timestampNs;
    call.dfd = AT_FDCWD;
    this.pending.delete(tid);
    this.pending.set(tid, call);
    if (this.pending.size > this.maxPending) {
      const oldest = this.pending.keys().next().value;
      if (oldest !== undefined) this.pending.delete(oldest);
      this.counters.pendingOverflow++;
    }
    return call;
  }

  /** The uprobe's call when it matches, else a new one (static binaries reach the syscall without libc). */
  private continueOrBegin(tid: number, kind: CallKind, timestampNs: number): PendingCall {
    const call = this.pending.get(tid);
    if (call !== undefined && call.kind === kind) return call;
    return this.begin(tid, kind, timestampNs);
  }

  private take(tid: number, kind: CallKind): PendingCall | undefined {
    const call = this.pending.get(tid);
    if (call === undefined) return undefined;
    this.pending.delete(tid);
    if (call.kind === kind) return call;
    this.counters.pendingMismatch++;
    return undefined;
  }

  private wallUs(timestampNs: number): number {
    return Math.round(timestampNs / 1000) + this.wallOffsetUs;
  }

  private emit(timestampNs: number, snapshot: ProcessSnapshot, payload: Event["payload"]): void {
    this.counters.events++;
    this.sink({
      timestampUs: this.wallUs(timestampNs),
      collector: "ftrace",
      process: this.table.toProcess(snapshot),
      payload,
    });
  }
}

/** uid_t -1: "leave unchanged" in the set*id family. */
const UNCHANGED = 0xffffffff;

/** The credentials after a successful call, per the semantics of each syscall (setfs*: the fs id is reported as the effective id). */
function applySetId(call: PendingCall, current: ProcessSnapshot): { uid: number; euid: number; gid: number } {
  const next = { uid: current.uid, euid: current.euid, gid: current.gid };
  const privileged = current.euid === 0;
  switch (call.syscall) {
    case "setuid":
      next.euid = call.arg0;
      if (privileged) next.uid = call.arg0;
      break;
    case "setreuid":
    case "setresuid":
      if (call.arg0 !== UNCHANGED) next.uid = call.arg0;
      if (call.arg1 !== UNCHANGED) next.euid = call.arg1;
      break;
    case "setfsuid":
      next.euid = call.arg0;
      break;
    case "setgid":
    case "setregid":
    case "setresgid":
    case "setfsgid":
      if (call.arg0 !== UNCHANGED) next.gid = call.arg0;
      break;
  }
  return next;
}

const S_ISUID = 0o4000;
const S_ISGID = 0o2000;

/** A set-user-ID (set-group-ID) file runs with its owner (group) as the effective id. */
function applySetIdBits(snapshot: ProcessSnapshot, executable: string): void {
  let mode: number;
  let owner: number;
  let group: number;
  try {
    const stat = statSync(executable);
    mode = stat.mode;
    owner = stat.uid;
    group = stat.gid;
  } catch {
    return;
  }
  if ((mode & S_ISUID) !== 0) snapshot.euid = owner;
  if ((mode & S_ISGID) !== 0) snapshot.egid = group;
}

function readLinkOrEmpty(path: string): string {
  try {
    return readlinkSync(path);
  } catch {
    return "";
  }
}

function parseStatOf(procRoot: string, pid: number) {
  const text = readText(`${procRoot}/${pid}/stat`);
  return text === undefined ? undefined : parseProcStat(text);
}
