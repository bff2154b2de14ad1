// INTEGRITY records (vigil.ko's integrity checks, driver/integrity.c) as the
// agent maps them: a generic event whose fields say what was found in words a
// rule and a person can read (kind by name, address in hex, what was checked).

import {
  VIGIL_INTEG_CHECK_DONE,
  VIGIL_INTEG_HIDDEN_MODULE,
  VIGIL_INTEG_PROC_FOPS_HOOK,
  VIGIL_INTEG_PROC_ITERATE,
  VIGIL_INTEG_RAN_MODULES,
  VIGIL_INTEG_RAN_PROC,
  VIGIL_INTEG_RAN_SYSCALLS,
  VIGIL_INTEG_SYSCALL_HOOK,
  VIGIL_INTEGRITY,
} from "./event-table.gen";
import { type DriverRecord, DriverRecordDecoder } from "./record-decoder";
import { type EncodeValue, encodeRecord } from "./record-encoder";
import { mapDriverRecord } from "./record-mapper";

function integrity(fields: Record<string, EncodeValue>): DriverRecord {
  const bytes = encodeRecord(VIGIL_INTEGRITY, fields, {
    pid: 87,
    comm: "kworker/0:2",
    tsRealNs: 1_763_900_000_123_456_789n,
  });
  const { records, counters } = DriverRecordDecoder.decodeAll(bytes);
  expect(counters.errors).toBe(0);
  return records[0] as DriverRecord;
}

function mapped(fields: Record<string, EncodeValue>) {
  const result = mapDriverRecord(integrity(fields));
  if (result.kind !== "generic") throw new Error("INTEGRITY has no typed payload");
  return result.event;
}

describe("record mapper - INTEGRITY", () => {
  test("a patched system call table entry: kind by name, address in hex, owner, symbol and target", () => {
    const event = mapped({
      kind: VIGIL_INTEG_SYSCALL_HOOK,
      index: 184,
      address: 0xffffffffc0a01000n,
      owner: "rootkit_sim",
      name: "rk_sys_hook+0x0",
    });
    expect(event).toMatchObject({
      collector: "driver",
      type: "integrity",
      category: "integrity",
      timestampUs: 1_763_900_000_123_456,
      process: { pid: 87, name: "kworker/0:2" },
    });
    expect(event.fields).toEqual({
      kind: "syscall_hook",
      index: 184,
      address: "0xffffffffc0a01000",
      owner: "rootkit_sim",
      name: "rk_sys_hook+0x0",
      target: "sys_call_table[184]",
    });
  });

  test("a hidden module and a /proc operations hook name what was checked", () => {
    expect(
      mapped({
        kind: VIGIL_INTEG_HIDDEN_MODULE,
        index: 0,
        address: 0xffffffffc0a00000n,
        owner: "rootkit_sim",
        name: "rootkit_sim",
      }).fields,
    ).toMatchObject({ kind: "hidden_module", owner: "rootkit_sim", target: "module rootkit_sim" });
    expect(
      mapped({
        kind: VIGIL_INTEG_PROC_FOPS_HOOK,
        index: VIGIL_INTEG_PROC_ITERATE,
        address: 0xffffffffc0a01020n,
        owner: "",
        name: "",
      }).fields,
    ).toEqual({
      kind: "proc_fops_hook",
      index: VIGIL_INTEG_PROC_ITERATE,
      address: "0xffffffffc0a01020",
      owner: "",
      name: "",
      target: "/proc i_fop->iterate_shared",
    });
  });

  test("the summary of a run: findings, what started it, the checks that ran and those skipped", () => {
    expect(
      mapped({
        kind: VIGIL_INTEG_CHECK_DONE,
        index: 4,
        address: BigInt(VIGIL_INTEG_RAN_MODULES | VIGIL_INTEG_RAN_SYSCALLS | VIGIL_INTEG_RAN_PROC),
        owner: "command",
        name: "",
      }).fields,
    ).toMatchObject({
      kind: "check_done",
      findings: 4,
      trigger: "command",
      checks: "modules syscalls proc",
      skipped: "",
    });
    expect(
      mapped({
        kind: VIGIL_INTEG_CHECK_DONE,
        index: 0,
        address: BigInt(VIGIL_INTEG_RAN_MODULES),
        owner: "timer",
        name: "syscalls:no-sys_call_table proc:no-/proc",
      }).fields,
    ).toMatchObject({
      findings: 0,
      trigger: "timer",
      checks: "modules",
      skipped: "syscalls:no-sys_call_table proc:no-/proc",
    });
  });

  test("a kind this agent does not know yet stays readable", () => {
    expect(mapped({ kind: 9, index: 1, address: 0n, owner: "", name: "" }).fields).toMatchObject({
      kind: "kind_9",
      address: "0x0",
    });
  });
});
