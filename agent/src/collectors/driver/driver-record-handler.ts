// Turns the raw /dev/vigil byte stream into agent events. Shared by the live
// DriverCollector (reading the device) and the DriverReplayCollector (reading a
// captured stream file), so a capture re-analysed later gives exactly the events
// the live agent would have sent:
//  - decoding (DriverRecordDecoder: validated, resynchronised, never throws);
//  - DROPPED / STATS bookkeeping;
//  - mapping onto typed events, or KernelEvent for kinds without one;
//  - process context: the driver's header names the acting task (pid, ppid,
//    uids, comm) but only EXEC carries an executable (the resolved file, and
//    the path execve was given when that differs) and argv, so a process
//    table fed by the stream itself (EXEC, FORK, CRED_CHANGE, EXIT) gives every
//    event its executable, argv and parent/grandparent; processes the stream
//    never introduced are looked up by an optional callback (/proc, live only);
//  - one open(O_CREAT) is one event: the module reports FILE_CREATE and then
//    FILE_OPEN_WRITE for it; the pair becomes a single fileOpen with created set.

import { posix } from "node:path";
import type { Logger } from "@vigil/common";
import type { Event, Process } from "@vigil/proto";
import { AUDIT_UNSET } from "../../context/login-info";
import { ProcessCache, toRef } from "../../context/process-cache";
import { emptySnapshot, type ProcessSnapshot } from "../proc/process-snapshot";
import { UserNames } from "../proc/user-names";
import type { EventSink } from "../types";
import { driverStatsCounters } from "./driver-stats";
import { VIGIL_DROPPED, VIGIL_STATS } from "./event-table.gen";
import { type DriverDecoderCounters, type DriverRecord, DriverRecordDecoder } from "./record-decoder";
import { mapDriverRecord } from "./record-mapper";

export interface DriverRecordHandlerOptions {
  logger: Logger;
  /** Records of this process are not reported (the live agent's own reads of /dev/vigil and /proc). */
  ownPid?: number;
  /**
   * The process cache (live: the agent's shared one, which looks up processes the
   * stream has not introduced in /proc). Default: a private one that never reads
   * /proc, for a capture of another host.
   */
  processCache?: ProcessCache;
  /** Bound on remembered processes of the private cache (default 65,536). */
  maxProcesses?: number;
}

const DEFAULT_MAX_PROCESSES = 65_536;

/** One FILE_CREATE waiting for the FILE_OPEN_WRITE of the same open(). */
interface PendingCreate {
  path: string;
  mode: number;
  event: Event;
}

export class DriverRecordHandler {
  private readonly decoder = new DriverRecordDecoder();
  private readonly processes: ProcessCache;
  /** Processes the driver reported (exec/fork) and that have not exited. */
  private readonly livePids = new Set<number>();
  private readonly pendingCreates = new Map<number, PendingCreate>();
  private readonly maxProcesses: number;
  private readonly counters = {
    events: 0,
    kernelEvents: 0,
    ownEvents: 0,
    driverDropped: 0,
    driverRecords: 0,
  };
  /** The last STATS record's counters (driver-stats.ts): ring buffer, hook mask, per-hook records and drops. */
  private kernelStats: Record<string, number> = {};

  constructor(private readonly options: DriverRecordHandlerOptions) {
    this.maxProcesses = options.maxProcesses ?? DEFAULT_MAX_PROCESSES;
    this.processes =
      options.processCache ??
      new ProcessCache({
        procRoot: "/proc",
        bootTimeUs: 0,
        maxArgs: 256,
        maxEntries: this.maxProcesses,
        userNames: new UserNames(),
        readProc: false,
      });
  }

  /** The process cache the stream feeds. */
  get processCache(): ProcessCache {
    return this.processes;
  }

  /** Decodes `chunk` (a record may span chunks) and emits the events of its complete records. */
  push(chunk: Uint8Array, emit: EventSink): void {
    for (const record of this.decoder.push(chunk)) this.handle(record, emit);
  }

  /** Emits what is held back (a FILE_CREATE without its open): call when a read finds the stream empty. */
  flush(emit: EventSink): void {
    for (const pending of this.pendingCreates.values()) this.emit(pending.event, emit);
    this.pendingCreates.clear();
  }

  /** The stream ended (end of a capture): a partial record left is counted as truncated. */
  finish(emit: EventSink): void {
    for (const record of this.decoder.finish()) this.handle(record, emit);
    this.flush(emit);
  }

  get decoderCounters(): Readonly<DriverDecoderCounters> {
    return this.decoder.counters;
  }

  /** True when the driver reported this process (exec/fork) and it has not exited. */
  knowsPid(pid: number): boolean {
    return this.livePids.has(pid);
  }

  stats(): Record<string, number> {
    const decoder = this.decoder.counters;
    return {
      ...this.kernelStats,
      ...this.counters,
      decodeErrors: decoder.errors,
      decodeResyncs: decoder.resyncs,
    };
  }

  private handle(record: DriverRecord, emit: EventSink): void {
    this.counters.driverRecords++;
    switch (record.header.type) {
      case VIGIL_DROPPED:
        this.counters.driverDropped = Number(record.fields.total ?? this.counters.driverDropped);
        this.options.logger.warn(
          { dropped: Number(record.fields.count ?? 0) },
          "driver ring buffer was full: records dropped",
        );
        return;
      case VIGIL_STATS:
        this.counters.driverDropped = Number(record.fields.dropped ?? this.counters.driverDropped);
        this.kernelStats = driverStatsCounters(record.fields);
        return;
    }
    const tgid = record.header.tgid;
    if (this.options.ownPid !== undefined && tgid === this.options.ownPid) {
      this.counters.ownEvents++;
      return;
    }
    const pending = this.pendingCreates.get(tgid);
    if (pending !== undefined) {
      this.pendingCreates.delete(tgid);
      const open = record.def.key === "FILE_OPEN_WRITE" ? this.toEvent(record) : undefined;
      if (open?.payload?.$case === "fileOpen" && open.payload.value.path === pending.path) {
        open.payload.value.created = true;
        if (open.payload.value.mode === 0) open.payload.value.mode = pending.mode;
        this.emit(open, emit);
        return;
      }
      this.emit(pending.event, emit);
    }
    const event = this.toEvent(record);
    if (record.def.key === "FILE_CREATE") {
      this.pendingCreates.set(tgid, {
        path: String(record.fields.path ?? ""),
        mode: Number(record.fields.mode ?? 0),
        event,
      });
      return;
    }
    this.emit(event, emit);
  }

  private emit(event: Event, emit: EventSink): void {
    if (event.payload?.$case === "kernel") this.counters.kernelEvents++;
    this.counters.events++;
    emit(event);
  }

  /** Maps the record, fills in the process context, and updates the table from what it says. */
  private toEvent(record: DriverRecord): Event {
    const mapped = mapDriverRecord(record);
    let event: Event;
    if (mapped.kind === "event") {
      event = mapped.event;
    } else {
      const generic = mapped.event;
      const fields: Record<string, string> = {};
      for (const [key, value] of Object.entries(generic.fields)) {
        fields[key] =
          typeof value === "object" && !Array.isArray(value) ? `${value.ip}:${value.port}` : String(value);
      }
      event = {
        timestampUs: generic.timestampUs,
        collector: "driver",
        process: generic.process,
        payload: { $case: "kernel", value: { type: generic.type, category: generic.category, fields } },
      };
    }
    event.process = this.track(event);
    return event;
  }

  /** The acting process with what the table knows about it, after applying the record to the table. */
  private track(event: Event): Process | undefined {
    const reported = event.process;
    if (reported === undefined) return undefined;
    const pid = reported.pid;
    const payload = event.payload;
    let self: ProcessSnapshot;
    if (payload?.$case === "exec") {
      const known = this.lookup(pid);
      self = {
        ...emptySnapshot(pid),
        ppid: reported.ppid,
        name: reported.name || posix.basename(reported.executable || payload.value.filename),
        executable: reported.executable || payload.value.filename,
        execFilename: reported.execFilename,
        args: payload.value.argv,
        cwd: reported.workingDirectory,
        uid: reported.uid,
        euid: reported.euid,
        gid: reported.gid,
        egid: reported.egid,
        tty: reported.tty,
        sessionId: reported.sessionId,
        startTimeUs: known?.startTimeUs || event.timestampUs,
        containerId: known?.containerId ?? "",
        loginUid: known?.loginUid ?? emptySnapshot(pid).loginUid,
        loginSessionId: known?.loginSessionId ?? 0,
      };
      this.put(self);
      this.live(pid);
    } else {
      self = this.lookup(pid) ?? { ...emptySnapshot(pid), ppid: reported.ppid, name: reported.name };
      self.ppid = reported.ppid || self.ppid;
      self.uid = reported.uid;
      self.euid = reported.euid;
      self.gid = reported.gid;
    }
    const parent = this.lookup(self.ppid);
    const grandparent = parent !== undefined && parent.ppid > 0 ? this.lookup(parent.ppid) : undefined;
    const process: Process = {
      ...reported,
      name: reported.name || self.name,
      executable: reported.executable || self.executable,
      execFilename: reported.executable ? reported.execFilename : (self.execFilename ?? ""),
      args: reported.args.length > 0 ? reported.args : self.args,
      workingDirectory: reported.workingDirectory || self.cwd,
      tty: reported.tty || self.tty,
      startTimeUs: self.startTimeUs,
      parent: parent === undefined ? undefined : toRef(parent),
      grandparent: grandparent === undefined ? undefined : toRef(grandparent),
    };
    process.containerId = self.containerId;
    process.loginUidSet = self.loginUid !== AUDIT_UNSET;
    process.loginUid = process.loginUidSet ? self.loginUid : 0;
    process.loginSessionId = self.loginSessionId;
    switch (payload?.$case) {
      case "fork": {
        const childPid = payload.value.childPid;
        this.put({
          ...self,
          pid: childPid,
          ppid: pid,
          startTimeUs: event.timestampUs,
          exited: false,
          exitedAtMs: 0,
        });
        this.live(childPid);
        break;
      }
      case "credentialChange":
        self.uid = payload.value.newUid;
        self.euid = payload.value.newEuid;
        self.gid = payload.value.newGid;
        break;
      case "exit":
        // Kept for context.exitGraceMs: a child's later event may still name this parent.
        this.processes.markExited(pid);
        this.livePids.delete(pid);
        break;
      default:
        break;
    }
    return process;
  }

  private lookup(pid: number): ProcessSnapshot | undefined {
    if (pid <= 0) return undefined;
    return this.processes.get(pid);
  }

  private put(snapshot: ProcessSnapshot): void {
    this.processes.put(snapshot);
  }

  private live(pid: number): void {
    if (this.livePids.size >= this.maxProcesses) this.livePids.clear();
    this.livePids.add(pid);
  }
}
