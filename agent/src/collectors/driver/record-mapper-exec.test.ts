// EXEC records: which path is the executable (exe_path, schema 2, resolved by
// the kernel) and which is what execve was given (filename), what fds 0-2
// were, and how the process table carries both paths to later events and to
// children (their parent / grandparent).

import { silentLogger } from "@vigil/common";
import type { Event } from "@vigil/proto";
import { DriverRecordHandler } from "./driver-record-handler";
import {
  DRIVER_EVENT_BY_ID,
  DRIVER_EVENT_IDS as T,
  VIGIL_FD_CHAR,
  VIGIL_FD_NONE,
  VIGIL_FD_PIPE,
  VIGIL_FD_SOCKET,
  VIGIL_FD_TTY,
} from "./event-table.gen";
import { DriverRecordDecoder } from "./record-decoder";
import { concatAll, type EncodeHeader, type EncodeValue, encodeRecord } from "./record-encoder";
import { mapDriverRecord } from "./record-mapper";

const EXEC_FIELDS = DRIVER_EVENT_BY_ID.get(T.EXEC)?.fields ?? [];

function exec(fields: Record<string, EncodeValue>, header: EncodeHeader = {}): Uint8Array {
  return encodeRecord(T.EXEC, fields, { pid: 300, tgid: 300, ppid: 1, comm: "sh", ...header });
}

function mapOne(record: Uint8Array) {
  const { records, counters } = DriverRecordDecoder.decodeAll(record);
  expect(counters.errors).toBe(0);
  const [first] = records;
  if (first === undefined) throw new Error("no record");
  return mapDriverRecord(first);
}

function execEvent(record: Uint8Array): Event {
  const mapped = mapOne(record);
  if (mapped.kind !== "event") throw new Error("exec is a typed event");
  return mapped.event;
}

const peer = { family: 2, port: 4444, addr: [203, 0, 113, 7] };
const local = { family: 2, port: 51234, addr: [10, 0, 3, 15] };

describe("driver EXEC → agent exec event", () => {
  test("exe_path is the last EXEC field (schema 2), after the stdio fields", () => {
    expect(EXEC_FIELDS.at(-1)).toEqual({ name: "exe_path", type: "STR" });
    expect(EXEC_FIELDS.map((f) => f.name).indexOf("stderr_remote")).toBe(EXEC_FIELDS.length - 2);
  });

  test("the resolved file is process.executable; the path execve got stays the exec's filename", () => {
    const event = execEvent(exec({ filename: "/bin/sh", exe_path: "/usr/bin/dash", argv: ["sh", "-i"] }));
    expect(event.process).toMatchObject({ executable: "/usr/bin/dash", execFilename: "/bin/sh", name: "sh" });
    expect(event.payload).toMatchObject({
      $case: "exec",
      value: { filename: "/bin/sh", argv: ["sh", "-i"] },
    });
  });

  test("no execFilename when both name the same file; /proc/self/exe and memfd execs stay honest", () => {
    expect(execEvent(exec({ filename: "/usr/bin/id", exe_path: "/usr/bin/id" })).process).toMatchObject({
      executable: "/usr/bin/id",
      execFilename: "",
    });
    expect(
      execEvent(exec({ filename: "/proc/self/exe", exe_path: "/bin/busybox", argv: ["cat", "x"] })).process,
    ).toMatchObject({ executable: "/bin/busybox", execFilename: "/proc/self/exe", args: ["cat", "x"] });
    expect(
      execEvent(exec({ filename: "/dev/fd/3", exe_path: "/memfd:payload (deleted)", argv: ["true"] }))
        .process,
    ).toMatchObject({ executable: "/memfd:payload (deleted)", execFilename: "/dev/fd/3" });
  });

  test("a module of schema 1 (no exe_path) or an unresolvable path: the filename is the executable", () => {
    const older = exec({ filename: "/bin/sh" }, { nfields: EXEC_FIELDS.length - 1 });
    // Trim the empty exe_path (2 bytes) so the record is what a schema-1 module writes.
    const trimmed = older.slice(0, older.length - 2);
    new DataView(trimmed.buffer).setUint32(8, trimmed.length, true);
    expect(execEvent(trimmed).process).toMatchObject({ executable: "/bin/sh", execFilename: "" });
    expect(execEvent(exec({ filename: "./run.sh", exe_path: "" })).process).toMatchObject({
      executable: "./run.sh",
      execFilename: "",
    });
  });

  test("stdin/stdout/stderr: kind by name, inet addresses only when set, the peer only when connected", () => {
    const event = execEvent(
      exec({
        filename: "/bin/sh",
        exe_path: "/bin/busybox",
        stdin_kind: VIGIL_FD_SOCKET,
        stdin_local: local,
        stdin_remote: peer,
        // A listening (bound, unconnected) socket: the peer is 0.0.0.0:0.
        stdout_kind: VIGIL_FD_SOCKET,
        stdout_local: { family: 2, port: 9000, addr: [0, 0, 0, 0] },
        stdout_remote: { family: 2, port: 0, addr: [0, 0, 0, 0] },
        // A UNIX socket: no addresses at all.
        stderr_kind: VIGIL_FD_SOCKET,
      }),
    );
    expect(event.payload).toMatchObject({
      value: {
        stdin: {
          type: "socket",
          localIp: "10.0.3.15",
          localPort: 51234,
          remoteIp: "203.0.113.7",
          remotePort: 4444,
        },
        stdout: { type: "socket", localIp: "0.0.0.0", localPort: 9000, remoteIp: "", remotePort: 0 },
        stderr: { type: "socket", localIp: "", localPort: 0, remoteIp: "", remotePort: 0 },
      },
    });
    const kinds = execEvent(
      exec({ stdin_kind: VIGIL_FD_TTY, stdout_kind: VIGIL_FD_PIPE, stderr_kind: VIGIL_FD_CHAR }),
    ).payload;
    expect(kinds).toMatchObject({
      value: { stdin: { type: "tty" }, stdout: { type: "pipe" }, stderr: { type: "char" } },
    });
    const closed = execEvent(exec({ stdin_kind: VIGIL_FD_NONE, stdout_kind: 9 })).payload;
    expect(closed).toMatchObject({ value: { stdin: { type: "none" }, stdout: { type: "kind_9" } } });
  });

  test("the process table gives later events and children both paths of the exec", () => {
    const handler = new DriverRecordHandler({ logger: silentLogger() });
    const events: Event[] = [];
    handler.push(
      concatAll([
        // A #! script: the interpreter runs, the script is what was exec'd.
        exec(
          { filename: "/usr/sbin/dkms", interpreter: "/bin/bash", exe_path: "/usr/bin/bash" },
          { pid: 10, tgid: 10, comm: "dkms" },
        ),
        encodeRecord(T.FORK, { child_pid: 11, child_tgid: 11, is_thread: 0 }, { pid: 10, tgid: 10, ppid: 1 }),
        exec(
          { filename: "/sbin/modprobe", exe_path: "/usr/bin/kmod", argv: ["modprobe", "vigil"] },
          { pid: 11, tgid: 11, ppid: 10, comm: "modprobe" },
        ),
        encodeRecord(T.FILE_OPEN_WRITE, { path: "/etc/modules", flags: 1 }, { pid: 11, tgid: 11, ppid: 10 }),
      ]),
      (event) => events.push(event),
    );
    const [, fork, modprobe, open] = events;
    expect(fork?.process).toMatchObject({ executable: "/usr/bin/bash", execFilename: "/usr/sbin/dkms" });
    expect(modprobe?.process).toMatchObject({
      executable: "/usr/bin/kmod",
      execFilename: "/sbin/modprobe",
      parent: { pid: 10, executable: "/usr/bin/bash", execFilename: "/usr/sbin/dkms" },
    });
    expect(open?.process).toMatchObject({ executable: "/usr/bin/kmod", execFilename: "/sbin/modprobe" });
  });
});
