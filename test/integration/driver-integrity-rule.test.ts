// vigil.ko's INTEGRITY records through the real code of every stage, without
// the network: the agent's driver record handling (decode, map, KernelEvent),
// the server's normalization to ECS, the ECS document, and the hub's default
// ruleset. The rootkit rule fires on each finding and stays quiet on the
// checks' summaries and on other driver records of the integrity category.

import { join } from "node:path";
import {
  VIGIL_DEVICE_OPENED,
  VIGIL_INTEG_CHECK_DONE,
  VIGIL_INTEG_HIDDEN_MODULE,
  VIGIL_INTEG_PROC_FOPS,
  VIGIL_INTEG_PROC_FOPS_HOOK,
  VIGIL_INTEG_RAN_MODULES,
  VIGIL_INTEG_RAN_PROC,
  VIGIL_INTEG_RAN_SYSCALLS,
  VIGIL_INTEG_SYSCALL_HOOK,
  VIGIL_INTEGRITY,
} from "../../agent/src/collectors/driver/event-table.gen";
import type { EncodeValue } from "../../agent/src/collectors/driver/record-encoder";
import { loadRuleSources } from "../../hub/src/correlation/load-rule-sources";
import { Ruleset } from "../../hub/src/sigma/ruleset";
import type { EcsDocument } from "../../hub/src/sigma/types";
import { driverRecordsToEcs } from "../harness/driver-records-to-ecs";

const ROOTKIT_RULE = "acd8acbc-6621-47b0-8501-43b6f3abd02e";
// As the hub loads it: base rules and the correlations over them.
const loaded = loadRuleSources(join(__dirname, "../../rules"));
const ruleset = new Ruleset(loaded.rules);

/** Records as the module writes them (from a kworker), through agent → server → ECS. */
const KWORKER = { pid: 87, ppid: 2, comm: "kworker/0:2" };
function documents(records: Array<[number, Record<string, EncodeValue>]>): EcsDocument[] {
  return driverRecordsToEcs(records.map(([type, fields]) => [type, fields, KWORKER]));
}

const finding = (
  kind: number,
  index: number,
  owner: string,
  name: string,
): [number, Record<string, EncodeValue>] => [
  VIGIL_INTEGRITY,
  { kind, index, address: 0xffffffffc0a01000n, owner, name },
];

describe("driver INTEGRITY records → agent → server → default ruleset", () => {
  test("the ruleset loads", () => {
    expect(loaded.errors).toEqual([]);
  });

  test("every finding fires the rootkit rule, with owner and target readable in vigil.*", () => {
    const docs = documents([
      finding(VIGIL_INTEG_HIDDEN_MODULE, 0, "rootkit_sim", "rootkit_sim"),
      finding(VIGIL_INTEG_SYSCALL_HOOK, 184, "rootkit_sim", "rk_sys_hook+0x0"),
      finding(VIGIL_INTEG_PROC_FOPS_HOOK, VIGIL_INTEG_PROC_FOPS, "rootkit_sim", "rk_proc_fops+0x0"),
    ]);
    expect(docs).toHaveLength(3);
    for (const doc of docs) {
      expect(doc.event).toMatchObject({
        category: ["intrusion_detection"],
        type: ["indicator"],
        action: "integrity",
        module: "vigil",
        dataset: "vigil.driver",
      });
      expect(ruleset.match(doc).map((rule) => rule.id)).toEqual([ROOTKIT_RULE]);
    }
    expect(docs.map((doc) => doc.vigil)).toEqual([
      {
        kind: "hidden_module",
        index: "0",
        address: "0xffffffffc0a01000",
        owner: "rootkit_sim",
        name: "rootkit_sim",
        target: "module rootkit_sim",
      },
      expect.objectContaining({ kind: "syscall_hook", index: "184", target: "sys_call_table[184]" }),
      expect.objectContaining({ kind: "proc_fops_hook", owner: "rootkit_sim", target: "/proc i_fop" }),
    ]);
  });

  test("a check's summary and the device-open record of the same category fire nothing", () => {
    const docs = documents([
      [
        VIGIL_INTEGRITY,
        {
          kind: VIGIL_INTEG_CHECK_DONE,
          index: 3,
          address: BigInt(VIGIL_INTEG_RAN_MODULES | VIGIL_INTEG_RAN_SYSCALLS | VIGIL_INTEG_RAN_PROC),
          owner: "timer",
          name: "",
        },
      ],
      [VIGIL_DEVICE_OPENED, { flags: 2, result: 0 }],
    ]);
    expect(docs).toHaveLength(2);
    expect(docs[0]?.vigil).toMatchObject({ kind: "check_done", findings: "3", trigger: "timer" });
    for (const doc of docs) expect(ruleset.match(doc)).toEqual([]);
  });
});
