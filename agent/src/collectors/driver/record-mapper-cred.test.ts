// CRED_CHANGE records: the ids, the system call by name, and the effective
// capability sets before and after (what a "process gained CAP_SYS_ADMIN"
// rule needs), carried on the typed credentialChange payload.

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { CredentialChange } from "@vigil/proto";
import { DRIVER_EVENT_IDS as T } from "./event-table.gen";
import { DriverRecordDecoder } from "./record-decoder";
import { encodeRecord } from "./record-encoder";
import { mapDriverRecord } from "./record-mapper";

/** Every capability of a 6.x kernel (CAP_CHOWN .. CAP_CHECKPOINT_RESTORE, bits 0-40). */
const FULL_SET = (1n << 41n) - 1n;
const CAP_SYS_ADMIN = 1n << 21n;
const CAP_NET_RAW = 1n << 13n;

function credChange(fields: Record<string, number | bigint>) {
  const { records, counters } = DriverRecordDecoder.decodeAll(
    encodeRecord(
      T.CRED_CHANGE,
      {
        old_uid: 1000,
        old_euid: 1000,
        new_uid: 1000,
        new_euid: 1000,
        old_gid: 1000,
        new_gid: 1000,
        ...fields,
      },
      { pid: 500, tgid: 500, ppid: 1, comm: "python3" },
    ),
  );
  expect(counters.errors).toBe(0);
  const mapped = records.map(mapDriverRecord)[0];
  if (mapped?.kind !== "event" || mapped.event.payload?.$case !== "credentialChange") {
    throw new Error("CRED_CHANGE is a typed credentialChange event");
  }
  return mapped.event.payload.value;
}

describe("driver CRED_CHANGE → agent credentialChange", () => {
  test("the effective capability sets before and after travel as numbers", () => {
    const change = credChange({
      syscall: 126,
      old_cap_effective: CAP_NET_RAW,
      new_cap_effective: CAP_NET_RAW | CAP_SYS_ADMIN,
    });
    expect(change).toMatchObject({
      syscall: "capset",
      oldUid: 1000,
      newEuid: 1000,
      oldCapEffective: Number(CAP_NET_RAW),
      newCapEffective: Number(CAP_NET_RAW | CAP_SYS_ADMIN),
    });
  });

  test("a drop to nobody keeps the empty set as 0, not as unknown; and survives the wire", () => {
    const change = credChange({
      syscall: 117,
      old_uid: 0,
      old_euid: 0,
      new_uid: 65534,
      new_euid: 65534,
      old_cap_effective: FULL_SET,
      new_cap_effective: 0n,
    });
    expect(change).toMatchObject({
      syscall: "setresuid",
      oldCapEffective: Number(FULL_SET),
      newCapEffective: 0,
    });
    const decoded = CredentialChange.decode(CredentialChange.encode(change).finish());
    expect(decoded.oldCapEffective).toBe(Number(FULL_SET));
    expect(decoded.newCapEffective).toBe(0);
    // Collectors that do not see capabilities leave them unset: unknown, not "none".
    const fromFtrace = CredentialChange.decode(
      CredentialChange.encode(CredentialChange.fromPartial({ syscall: "setuid", newUid: 0 })).finish(),
    );
    expect(fromFtrace.oldCapEffective).toBeUndefined();
    expect(fromFtrace.newCapEffective).toBeUndefined();
  });

  test("user-namespace and capability calls are named, unknown numbers stay visible", () => {
    expect(credChange({ syscall: 272 }).syscall).toBe("unshare");
    expect(credChange({ syscall: 308 }).syscall).toBe("setns");
    expect(credChange({ syscall: 157 }).syscall).toBe("prctl");
    expect(credChange({ syscall: 59 }).syscall).toBe("execve");
    expect(credChange({ syscall: 999 }).syscall).toBe("syscall_999");
  });

  test("captured vigil.ko records: the privesc step's setresuid drop and regain of root move the whole set", () => {
    // test/fixtures/driver/stream.bin: what the module wrote in a real kernel (6.x, 41 capabilities).
    const stream = readFileSync(join(__dirname, "../../../../test/fixtures/driver/stream.bin"));
    const changes = DriverRecordDecoder.decodeAll(new Uint8Array(stream))
      .records.filter((record) => record.def.key === "CRED_CHANGE")
      .map(mapDriverRecord)
      .map((mapped) =>
        mapped.kind === "event" && mapped.event.payload?.$case === "credentialChange"
          ? mapped.event.payload.value
          : undefined,
      );
    const full = Number(FULL_SET);
    expect(changes).toContainEqual(
      expect.objectContaining({
        syscall: "setresuid",
        newEuid: 65534,
        oldCapEffective: full,
        newCapEffective: 0,
      }),
    );
    expect(changes).toContainEqual(
      expect.objectContaining({
        oldUid: 1000,
        oldEuid: 1000,
        newEuid: 0,
        oldCapEffective: 0,
        newCapEffective: full,
      }),
    );
  });
});
