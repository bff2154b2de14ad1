// vigil.ko's integrity checks in a real kernel: boots Debian's kernel in QEMU
// with the guest scenario test/qemu/guest/integrity.sh and the TEST-ONLY
// rootkit simulator driver/tests/rootkit-sim (hides itself from the module
// list, patches sys_call_table[__NR_tuxcall], replaces the /proc root's file
// operations). The INTEGRITY records read from /dev/vigil - decoded and mapped
// by the agent's own code - must show a clean kernel before the simulator is
// loaded and each of its changes, with the simulator as owner, after; on the
// "check" command and on the timer (integrity_interval_s=2).
//
// Needs what test/qemu/driver-in-qemu.test.ts needs (qemu-system-x86
// linux-image-amd64 linux-headers-amd64 busybox-static gcc libc6-dev cpio).
// VIGIL_KO=path uses a prebuilt vigil.ko; VIGIL_KEEP_QEMU=1 keeps the temp dirs.

import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import {
  VIGIL_INTEG_PROC_FOPS,
  VIGIL_INTEG_PROC_ITERATE,
} from "../../agent/src/collectors/driver/event-table.gen";
import { type DriverRecord, DriverRecordDecoder } from "../../agent/src/collectors/driver/record-decoder";
import { mapDriverRecord } from "../../agent/src/collectors/driver/record-mapper";
import { assertPrerequisites, bootGuest, buildKernelModule, type GuestRun } from "../harness/qemu-guest";

const REPO = resolve(__dirname, "../..");
/** The call rootkit_sim patches: __NR_tuxcall on x86-64 (unimplemented, sys_ni_syscall). */
const PATCHED_SYSCALL = 184;

type Fields = Record<string, unknown>;

/** The INTEGRITY records of a stream, as the agent maps them (kind by name, address in hex, ...). */
function integrity(records: DriverRecord[]): Fields[] {
  return records
    .filter((r) => r.def.key === "INTEGRITY")
    .map((r) => {
      const mapped = mapDriverRecord(r);
      return mapped.kind === "generic" ? mapped.event.fields : {};
    });
}

/** The records of each run: its findings, then its CHECK_DONE. */
function runs(fields: Fields[]): Array<{ done: Fields; findings: Fields[] }> {
  const out: Array<{ done: Fields; findings: Fields[] }> = [];
  let findings: Fields[] = [];
  for (const f of fields) {
    if (f.kind === "check_done") {
      out.push({ done: f, findings });
      findings = [];
    } else findings.push(f);
  }
  return out;
}

/** What rootkit_sim does, as vigil.ko reports it (order: modules, syscalls, /proc). */
const ROOTKIT_FINDINGS = [
  { kind: "hidden_module", owner: "rootkit_sim", name: "rootkit_sim", target: "module rootkit_sim" },
  {
    kind: "syscall_hook",
    index: PATCHED_SYSCALL,
    owner: "rootkit_sim",
    name: "rk_sys_hook+0x0",
    target: `sys_call_table[${PATCHED_SYSCALL}]`,
  },
  {
    kind: "proc_fops_hook",
    index: VIGIL_INTEG_PROC_FOPS,
    owner: "rootkit_sim",
    name: "rk_proc_fops+0x0",
  },
  {
    kind: "proc_fops_hook",
    index: VIGIL_INTEG_PROC_ITERATE,
    owner: "rootkit_sim",
    name: "rk_iterate_shared+0x0",
  },
];
const ALL_CHECKS = { checks: "modules syscalls proc", skipped: "" };

describe("vigil.ko integrity checks in a real kernel (QEMU) against a simulated rootkit", () => {
  let work = "";
  let run: GuestRun | undefined;
  let first: Fields[] = [];
  let timer: Fields[] = [];
  let timerErrors = -1;

  beforeAll(() => {
    assertPrerequisites();
    work = mkdtempSync(join(tmpdir(), "vigil-rootkit-sim-"));
    const rootkit = buildKernelModule(join(REPO, "driver/tests/rootkit-sim"), work, "rootkit_sim");
    run = bootGuest("vigil-integrity-test-", [
      "-s",
      "integrity",
      "-a",
      rootkit,
      "-p",
      "integrity_interval_s=2",
    ]);
    first = integrity(run.records);
    const timerPath = join(run.out, "stream-timer.bin");
    const decoded = DriverRecordDecoder.decodeAll(
      existsSync(timerPath) ? readFileSync(timerPath) : Buffer.alloc(0),
    );
    timer = integrity(decoded.records);
    timerErrors = decoded.counters.errors;
  }, 240_000);

  afterAll(() => {
    run?.cleanUp();
    if (work && process.env.VIGIL_KEEP_QEMU === undefined) rmSync(work, { recursive: true, force: true });
  });

  it("the guest ran every step; the simulator hid itself from /proc/modules but not from /sys/module", () => {
    const log = run?.guestLog ?? "";
    expect(log).toMatch(/insmod defaults rc=0/);
    expect(log).toMatch(/insmod rootkit_sim rc=0/);
    expect(log).toMatch(/rootkit_sim not listed/);
    expect(log).toMatch(/rootkit_sim in \/sys\/module/);
    expect(log).toMatch(/control 'check' rc=0/);
    expect(log).toMatch(/check bad-check: rejected/);
    expect(log.match(/rmmod rc=0/g)).toHaveLength(2);
    expect(run?.counters).toMatchObject({ errors: 0, unknownType: 0, skippedBytes: 0 });
    expect(timerErrors).toBe(0);
  });

  it("a clean kernel log: no BUG, Oops or WARNING from vigil.ko or the simulator", () => {
    const out = run?.out ?? "";
    const summary = JSON.parse(readFileSync(join(out, "summary.json"), "utf8")) as {
      kernelProblems: string[];
    };
    expect(summary.kernelProblems).toEqual([]);
    const dmesg = readFileSync(join(out, "dmesg.txt"), "utf8");
    expect(dmesg).not.toMatch(/BUG:|Oops|WARNING:|general protection|Call Trace/);
    // Every address vigil.ko needs was resolved (else its checks are skipped, see CHECK_DONE).
    expect(dmesg).toMatch(/vigil: integrity: text ok, rodata ok, sys_call_table ok, interval 300s/);
  });

  it("before the simulator: the check at load and the 'check' command find nothing", () => {
    const [load, clean] = runs(first);
    expect(load).toEqual({
      done: expect.objectContaining({ trigger: "load", findings: 0, ...ALL_CHECKS }),
      findings: [],
    });
    expect(clean).toEqual({
      done: expect.objectContaining({ trigger: "command", findings: 0, ...ALL_CHECKS }),
      findings: [],
    });
  });

  it("after the simulator: the 'check' command reports the hidden module, the syscall hook and the /proc hooks, owner rootkit_sim", () => {
    const all = runs(first);
    expect(all).toHaveLength(3);
    const after = all[2];
    expect(after?.done).toMatchObject({
      trigger: "command",
      findings: ROOTKIT_FINDINGS.length,
      ...ALL_CHECKS,
    });
    expect(after?.findings).toEqual(ROOTKIT_FINDINGS.map((f) => expect.objectContaining(f)));
    // The hooks' addresses are the simulator's, not the kernel's.
    for (const f of after?.findings ?? []) expect(String(f.address)).toMatch(/^0xffff[0-9a-f]{12}$/);
  });

  it("on the timer (integrity_interval_s=2): the check at load and then timer checks keep reporting the same", () => {
    const all = runs(timer);
    expect(all[0]?.done).toMatchObject({ trigger: "load" });
    const timed = all.filter((r) => r.done.trigger === "timer");
    // 5 s of reading with a 2 s interval: two timer runs, allow for a slow emulated guest.
    expect(timed.length).toBeGreaterThanOrEqual(1);
    for (const r of all) {
      expect(r.done).toMatchObject({ findings: ROOTKIT_FINDINGS.length, ...ALL_CHECKS });
      expect(r.findings).toEqual(ROOTKIT_FINDINGS.map((f) => expect.objectContaining(f)));
    }
  });
});
