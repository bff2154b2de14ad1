// The driver in a real kernel: builds vigil.ko against Debian's kernel headers,
// boots that kernel in QEMU (software emulation) with test/qemu/run-guest.sh,
// lets driver/tests/guest/vigil-exercise.c make real syscalls, and checks the
// records read from /dev/vigil - decoded by the agent's own decoder - against
// what the guest program reports it did (pids, argv, ports, uids, paths).
//
// Needs: qemu-system-x86 linux-image-amd64 linux-headers-amd64 busybox-static
// gcc libc6-dev cpio. The kernel is the newest one installed with both an
// image in /boot and headers in /usr/src (VIGIL_KVER overrides).
// VIGIL_KO=path uses a prebuilt module; VIGIL_KEEP_QEMU=1 keeps the temp dir
// (stream.bin, exercise.json, dmesg.txt, console.log) for inspection.

import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { DriverRecord, DriverRecordDecoder } from "../../agent/src/collectors/driver/record-decoder";
import { mapDriverRecord } from "../../agent/src/collectors/driver/record-mapper";
import {
  assertGuestBash,
  type DriverExercise,
  EXERCISE_GUEST_ARGS,
  kernelArgv,
  matchAlerts,
  readExercise,
} from "../harness/driver-exercise";
import { runDriverCapturePipeline } from "../harness/driver-pipeline";
import { bootGuest, type GuestRun } from "../harness/qemu-guest";

interface Exercise {
  pid: number;
  uid: number;
  exec: {
    pid: number;
    filename: string;
    resolved: string;
    argv: string[];
    ldPreload: string;
    exitCode: number;
  };
  exit: { pid: number; code: number };
  connect: { pid: number; address: string; port: number; result: number };
  setuid: { pid: number; oldUid: number; newUid: number; newEuid: number; result: number };
  ptrace: { pid: number; request: number; target: number; result: number };
  open: { pid: number; path: string; flags: number; result: number };
  rename: { pid: number; from: string; to: string };
  chmod: { pid: number; path: string; mode: number };
  unlink: { pid: number; path: string };
  dns: { pid: number; name: string; port: number };
  memfd: { pid: number; name: string; execPid: number };
  procSelfExe: { pid: number; applet: string; resolved: string; exitCode: number };
}

describe("vigil.ko in a real kernel (QEMU)", () => {
  let run: GuestRun | undefined;
  let out = "";
  let exercise: Exercise;
  let records: DriverRecord[] = [];
  let counters: DriverRecordDecoder["counters"];
  let guestLog = "";

  beforeAll(() => {
    assertGuestBash();
    run = bootGuest("vigil-qemu-test-", EXERCISE_GUEST_ARGS);
    ({ records, counters, guestLog, out } = run);
    exercise = JSON.parse(readFileSync(join(out, "exercise.json"), "utf8")) as Exercise;
  }, 240_000);

  afterAll(() => {
    if (pending.length > 0) console.warn(`vigil.ko emitted no record for: ${pending.join(", ")}`);
    run?.cleanUp();
  });

  const of = (key: string, tgid: number) =>
    records.filter((r) => r.def.key === key && r.header.tgid === tgid);

  it("loads, runs and unloads with a clean kernel log", () => {
    expect(guestLog).toMatch(/insmod rc=0/);
    expect(guestLog).toMatch(/rmmod rc=0/);
    const summary = JSON.parse(readFileSync(join(out, "summary.json"), "utf8")) as {
      kernelProblems: string[];
    };
    expect(summary.kernelProblems).toEqual([]);
    expect(readFileSync(join(out, "dmesg.txt"), "utf8")).not.toMatch(/BUG:|Oops|WARNING:|general protection/);
  });

  it("the stream decodes without a single error", () => {
    expect(counters).toMatchObject({ errors: 0, unknownType: 0, skippedBytes: 0 });
    expect(records.length).toBeGreaterThan(10);
    // Sequence numbers grow (no record lost or reordered by the reader).
    const seqs = records.map((r) => r.header.seq);
    for (let i = 1; i < seqs.length; i++) expect((seqs[i] as bigint) > (seqs[i - 1] as bigint)).toBe(true);
  });

  it("exec: the program's child, with filename, resolved path, argv and LD_PRELOAD", () => {
    const [exec] = of("EXEC", exercise.exec.pid);
    expect(exec?.header).toMatchObject({ pid: exercise.exec.pid, ppid: exercise.pid, uid: exercise.uid });
    // /bin/true is a symlink to busybox in the guest: filename is what execve got, exe_path the file.
    expect(exercise.exec.resolved).toBe("/bin/busybox");
    expect(exec?.fields).toMatchObject({
      filename: exercise.exec.filename,
      exe_path: exercise.exec.resolved,
      argc: exercise.exec.argv.length,
      argv: exercise.exec.argv,
      ld_preload: exercise.exec.ldPreload,
    });
    const mapped = exec === undefined ? undefined : mapDriverRecord(exec);
    expect(mapped?.kind === "event" && mapped.event).toMatchObject({
      collector: "driver",
      process: {
        pid: exercise.exec.pid,
        ppid: exercise.pid,
        executable: "/bin/busybox",
        execFilename: "/bin/true",
      },
      payload: {
        $case: "exec",
        value: { filename: "/bin/true", argv: exercise.exec.argv, argvTruncated: false },
      },
    });
  });

  it("exec through /proc/self/exe: busybox sh runs its cat applet as /proc/self/exe, reported as /bin/busybox", () => {
    const run = exercise.procSelfExe;
    expect(run).toMatchObject({ exitCode: 0, resolved: "/bin/busybox" });
    expect(of("EXEC", run.pid)[0]?.fields).toMatchObject({ filename: "/bin/sh", exe_path: run.resolved });
    const applet = records.find(
      (r) =>
        r.def.key === "EXEC" && r.header.ppid === run.pid && (r.fields.argv as string[])[0] === run.applet,
    );
    expect(applet?.fields).toMatchObject({ filename: "/proc/self/exe", exe_path: run.resolved });
    const mapped = applet === undefined ? undefined : mapDriverRecord(applet);
    expect(mapped?.kind === "event" && mapped.event.process).toMatchObject({
      executable: run.resolved,
      execFilename: "/proc/self/exe",
      args: [run.applet, "/dev/null"],
    });
  });

  it("fork and exit: every child of the program, and the exit code 7", () => {
    const children = of("FORK", exercise.pid).map((r) => r.fields.child_tgid);
    expect(children).toEqual(
      expect.arrayContaining([
        exercise.exec.pid,
        exercise.exit.pid,
        exercise.setuid.pid,
        exercise.ptrace.target,
      ]),
    );
    const [exit] = of("EXIT", exercise.exit.pid).map(mapDriverRecord);
    expect(exit?.kind === "event" && exit.event.payload).toEqual({
      $case: "exit",
      value: { exitCode: exercise.exit.code, signal: 0 },
    });
    const [killed] = of("EXIT", exercise.ptrace.target).map(mapDriverRecord);
    expect(killed?.kind === "event" && killed.event.payload).toEqual({
      $case: "exit",
      value: { exitCode: 0, signal: 9 },
    });
  });

  it("credential change: setresuid(65534) in the child, old and new uids", () => {
    const [cred] = of("CRED_CHANGE", exercise.setuid.pid).map(mapDriverRecord);
    expect(cred?.kind === "event" && cred.event.payload).toMatchObject({
      $case: "credentialChange",
      value: {
        syscall: "setresuid",
        oldUid: exercise.setuid.oldUid,
        newUid: exercise.setuid.newUid,
        newEuid: exercise.setuid.newEuid,
      },
    });
  });

  it("/dev/vigil: one reader only (EBUSY reported as a record), malformed commands refused", () => {
    expect(guestLog).toMatch(/check second-open: refused: .*busy/i);
    expect(guestLog).toMatch(/check bad-control: rejected/);
    const busy = records.filter((r) => r.def.key === "DEVICE_OPENED" && r.fields.result === -16);
    expect(busy.length).toBeGreaterThanOrEqual(1);
  });

  const pending: string[] = [];
  /** Every hook must have produced at least one record; then its fields are checked. */
  const emitted = (key: string, check: (rs: DriverRecord[]) => void) => () => {
    const rs = records.filter((r) => r.def.key === key);
    if (rs.length === 0) pending.push(key);
    expect({ key, records: rs.length > 0 }).toEqual({ key, records: true });
    check(rs);
  };

  it(
    "connect: 127.0.0.1 and the port the program listened on",
    emitted("CONNECT", () => {
      const [c] = of("CONNECT", exercise.connect.pid)
        .map(mapDriverRecord)
        .filter((m) => m.kind === "event" && m.event.payload?.$case === "connect");
      expect(c?.event).toMatchObject({
        payload: {
          value: {
            transport: "tcp",
            destinationIp: "127.0.0.1",
            destinationPort: exercise.connect.port,
            result: exercise.connect.result,
          },
        },
      });
    }),
  );

  it(
    "ptrace: PTRACE_ATTACH of the sleeping child",
    emitted("PTRACE", () => {
      const [p] = of("PTRACE", exercise.ptrace.pid);
      expect(p?.fields).toMatchObject({
        target_tgid: exercise.ptrace.target,
        request: BigInt(exercise.ptrace.request),
      });
    }),
  );

  it(
    "accept: the listening side sees the same connection",
    emitted("ACCEPT", () => {
      const locals = of("ACCEPT", exercise.connect.pid).map((r) => r.fields.local);
      expect(locals).toContainEqual({ family: 2, port: exercise.connect.port, ip: "127.0.0.1" });
    }),
  );

  it(
    "file hooks under the watched prefix: open for write, rename, chmod +s, unlink",
    emitted("FILE_RENAME", () => {
      expect(of("FILE_RENAME", exercise.rename.pid)[0]?.fields).toMatchObject({
        old_path: exercise.rename.from,
        new_path: exercise.rename.to,
      });
      expect(of("FILE_UNLINK", exercise.unlink.pid)[0]?.fields).toMatchObject({ path: exercise.unlink.path });
      const [chmod] = of("FILE_CHMOD", exercise.chmod.pid);
      expect(chmod?.fields).toMatchObject({ path: exercise.chmod.path });
      expect(Number(chmod?.fields.new_mode) & 0o7777).toBe(exercise.chmod.mode);
      // Both modes carry the file type (regular file), so they compare directly.
      expect(Number(chmod?.fields.new_mode) & 0o170000).toBe(0o100000);
      expect(Number(chmod?.fields.old_mode) & 0o170000).toBe(0o100000);
      const [open] = of("FILE_OPEN_WRITE", exercise.open.pid).map(mapDriverRecord);
      expect(open?.kind === "event" && open.event.payload).toMatchObject({
        $case: "fileOpen",
        value: { path: exercise.open.path },
      });
      // The kernel adds O_LARGEFILE; the access/creation bits are the program's.
      const flags =
        open?.kind === "event" && open.event.payload?.$case === "fileOpen"
          ? open.event.payload.value.flags
          : 0;
      expect(flags & 0o7777).toBe(exercise.open.flags);
      // The created file's path, not "<path> (deleted)" from its still-negative dentry.
      const created = of("FILE_CREATE", exercise.open.pid);
      expect(created).toHaveLength(1);
      expect(created[0]?.fields.path).toBe(exercise.open.path);
    }),
  );

  it(
    "DNS: the query name of the UDP packet to port 53",
    emitted("DNS_QUERY", () => {
      expect(of("DNS_QUERY", exercise.dns.pid)[0]?.fields).toMatchObject({
        query_name: exercise.dns.name,
        query_type: 1,
        remote: { ip: "127.0.0.1", port: exercise.dns.port },
      });
    }),
  );

  it(
    "memfd_create and the exec from it",
    emitted("MEMFD_CREATE", () => {
      expect(of("MEMFD_CREATE", exercise.memfd.pid)[0]?.fields).toMatchObject({ name: exercise.memfd.name });
      const execs = of("EXEC", exercise.memfd.execPid);
      expect(execs).toHaveLength(1);
      // execveat(fd, "", AT_EMPTY_PATH): asked for /dev/fd/N, runs the unlinked memfd, and says so.
      expect(execs[0]?.fields.filename).toMatch(/^\/dev\/fd\/\d+$/);
      expect(execs[0]?.fields.exe_path).toBe(`/memfd:${exercise.memfd.name} (deleted)`);
      const mapped = execs[0] === undefined ? undefined : mapDriverRecord(execs[0]);
      expect(mapped?.kind === "event" && mapped.event.process).toMatchObject({
        executable: `/memfd:${exercise.memfd.name} (deleted)`,
        execFilename: execs[0]?.fields.filename,
      });
    }),
  );

  describe('the program as an attacker (exercise.json "attacks"): the records the rules need', () => {
    let guest: DriverExercise;
    beforeAll(() => {
      guest = readExercise(join(out, "exercise.json"));
    });

    it("every attack step ran and succeeded in the guest", () => {
      expect(guest.setup).toMatchObject({ addressResult: 0, bashResult: 0 });
      const a = guest.attacks;
      expect(a.privesc).toMatchObject({ dropResult: 0, regainResult: 0, rootResult: 0, exitCode: 0 });
      for (const step of [
        a.tempExec,
        a.cron,
        a.sudoers,
        a.authorizedKeys,
        a.accountCreation,
        a.historyDelete,
      ])
        expect(step).toMatchObject({ exitCode: 0 });
      expect(a.ldPreload.exitCode).toBe(0);
      for (const step of [a.devTcp, a.netcat, a.download])
        expect(step).toMatchObject({ connected: 1, exitCode: 0 });
      // insmod of the module that is already loaded: the kernel refuses it (EEXIST), the exec happened.
      expect(a.moduleLoad.exitCode).toBe(17);
    });

    it("exec of each attack command: filename and argv as the kernel saw them (a script's argv rewritten)", () => {
      const a = guest.attacks;
      for (const step of [
        a.privesc,
        a.tempExec,
        a.cron,
        a.sudoers,
        a.authorizedKeys,
        a.devTcp,
        a.netcat,
        a.download,
        a.moduleLoad,
        a.accountCreation,
        a.historyDelete,
        a.historyDisable,
      ]) {
        const [exec] = of("EXEC", step.pid);
        expect({ pid: step.pid, fields: exec?.fields }).toMatchObject({
          pid: step.pid,
          fields: { filename: step.executable, exe_path: step.resolved, argv: kernelArgv(step) },
        });
      }
      // A script runs its interpreter: exe_path is /bin/sh resolved, filename the script.
      expect(of("EXEC", a.accountCreation.pid)[0]?.fields).toMatchObject({
        interpreter: "/bin/sh",
        exe_path: "/bin/busybox",
      });
      // cat runs as root all through: the process made itself root before the exec.
      expect(of("EXEC", a.privesc.pid)[0]?.header).toMatchObject({ uid: 0, euid: 0 });
    });

    it("credential changes: root → uid 1000 (saved uid 0), back to euid 0, then root all through", () => {
      const uid = guest.attacks.privesc.uid;
      const creds = of("CRED_CHANGE", guest.attacks.privesc.pid).map((r) => [
        r.fields.old_uid,
        r.fields.old_euid,
        r.fields.new_uid,
        r.fields.new_euid,
        r.fields.syscall,
      ]);
      expect(creds.slice(0, 3)).toEqual([
        [0, 0, uid, uid, 117],
        [uid, uid, uid, 0, 117],
        [uid, 0, 0, 0, 117],
      ]);
    });

    it("persistence writes under the watched /etc/ and /root/: create + open for write by the writer", () => {
      const a = guest.attacks;
      for (const [pid, path] of [
        [a.cron.pid, "/etc/cron.d/vigil-job"],
        [a.sudoers.pid, "/etc/sudoers.d/vigil"],
        [a.ldPreload.pid, a.ldPreload.path],
        [a.authorizedKeys.pid, "/root/.ssh/authorized_keys"],
      ] as const) {
        expect({ path, created: of("FILE_CREATE", pid).map((r) => r.fields.path) }).toEqual({
          path,
          created: [path],
        });
        expect({ path, opened: of("FILE_OPEN_WRITE", pid).map((r) => r.fields.path) }).toEqual({
          path,
          opened: [path],
        });
      }
    });

    it("reverse shells: bash's /dev/tcp connect (from its forked child) and nc's connect, then a shell on the socket", () => {
      const { devTcp, netcat } = guest.attacks;
      const bashChild = records.find(
        (r) => r.def.key === "FORK" && r.header.tgid === devTcp.pid && r.fields.is_thread === 0,
      )?.fields.child_tgid as number;
      const remote = { family: 2, ip: devTcp.remoteIp };
      expect(of("CONNECT", bashChild)[0]?.fields).toMatchObject({
        remote: { ...remote, port: devTcp.port },
        result: 0,
      });
      // The child then becomes `bash -i` with stdin, stdout and stderr on that socket.
      expect(of("EXEC", bashChild)[0]?.fields).toMatchObject({
        argv: ["bash", "-i"],
        stdin_remote: { ...remote, port: devTcp.port },
      });
      expect(of("CONNECT", netcat.pid)[0]?.fields).toMatchObject({
        remote: { ...remote, port: netcat.port },
      });
      const execs = of("EXEC", netcat.pid);
      expect(execs.map((r) => r.fields.filename)).toEqual(["/bin/nc", netcat.shell]);
      // nc -e: the shell exec'd in nc's process, on the connection; the agent reports what the rules see.
      const socket = { type: "socket", remoteIp: netcat.remoteIp, remotePort: netcat.port };
      const [shell] = execs.slice(1).map(mapDriverRecord);
      expect(shell?.kind === "event" && shell.event).toMatchObject({
        process: { executable: netcat.shellResolved, execFilename: netcat.shell },
        payload: { $case: "exec", value: { stdin: socket, stdout: socket, stderr: { type: "char" } } },
      });
    });

    it("this run's stream through agent → gRPC → server → NATS → hub fires exactly the expected default rules", async () => {
      const result = await runDriverCapturePipeline([join(out, "stream.bin")]);
      expect(result.replay).toMatchObject({ decodeErrors: 0 });
      expect(result.evaluated).toBe(result.events);
      const match = matchAlerts(result.alerts, guest);
      expect(match.missing).toEqual([]);
      expect(match.unexpected).toEqual([]);
      for (const { expected, alert } of match.matched)
        expect({ rule: expected.rule, alert }).toMatchObject({ rule: expected.rule, alert: expected.fields });
    }, 90_000);
  });
});

describe("vigil.ko under a flood with a 4 KiB buffer, then 50 load/unload cycles under load (QEMU)", () => {
  let run: GuestRun | undefined;
  let out = "";
  let records: DriverRecord[] = [];
  let counters: DriverRecordDecoder["counters"];
  let guestLog = "";

  beforeAll(() => {
    run = bootGuest("vigil-qemu-flood-", ["-p", "buffer_kb=4", "-f", "300", "-u", "50"]);
    ({ records, counters, guestLog, out } = run);
  }, 240_000);

  afterAll(() => run?.cleanUp());

  it("drops are counted and reported in a DROPPED record, and the stream stays well-formed", () => {
    expect(guestLog).toMatch(/flood execs=300/);
    expect(counters).toMatchObject({ errors: 0, skippedBytes: 0 });
    const dropped = records.filter((r) => r.def.key === "DROPPED");
    expect(dropped.length).toBeGreaterThanOrEqual(1);
    const last = dropped[dropped.length - 1];
    expect(Number(last?.fields.count)).toBeGreaterThan(0);
    expect(Number(last?.fields.total)).toBeGreaterThanOrEqual(Number(last?.fields.count));
    // Records keep flowing after the drop is reported.
    expect(records.indexOf(last as DriverRecord)).toBeLessThan(records.length - 1);
  });

  it("50 load/unload cycles with hooks firing leave no BUG/Oops/WARNING", () => {
    expect(guestLog).toMatch(/cycles requested=50 ok=50/);
    const summary = JSON.parse(readFileSync(join(out, "summary.json"), "utf8")) as {
      kernelProblems: string[];
    };
    expect(summary.kernelProblems).toEqual([]);
  });
});
