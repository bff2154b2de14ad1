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
import { bootGuest, type GuestRun } from "../harness/qemu-guest";

interface Exercise {
  pid: number;
  uid: number;
  exec: { pid: number; filename: string; argv: string[]; ldPreload: string; exitCode: number };
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
}

describe("vigil.ko in a real kernel (QEMU)", () => {
  let run: GuestRun | undefined;
  let out = "";
  let exercise: Exercise;
  let records: DriverRecord[] = [];
  let counters: DriverRecordDecoder["counters"];
  let guestLog = "";

  beforeAll(() => {
    run = bootGuest("vigil-qemu-test-", []);
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

  it("exec: the program's child, with filename, argv and LD_PRELOAD", () => {
    const [exec] = of("EXEC", exercise.exec.pid);
    expect(exec?.header).toMatchObject({ pid: exercise.exec.pid, ppid: exercise.pid, uid: exercise.uid });
    expect(exec?.fields).toMatchObject({
      filename: exercise.exec.filename,
      argc: exercise.exec.argv.length,
      argv: exercise.exec.argv,
      ld_preload: exercise.exec.ldPreload,
    });
    const mapped = exec === undefined ? undefined : mapDriverRecord(exec);
    expect(mapped?.kind === "event" && mapped.event).toMatchObject({
      collector: "driver",
      process: { pid: exercise.exec.pid, ppid: exercise.pid, executable: "/bin/true" },
      payload: {
        $case: "exec",
        value: { filename: "/bin/true", argv: exercise.exec.argv, argvTruncated: false },
      },
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
      expect(of("EXEC", exercise.memfd.execPid)).toHaveLength(1);
    }),
  );
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
