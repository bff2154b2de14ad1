// The agent's policy write in a real kernel: the bytes DriverCollector writes
// for a server-pushed policy (buildDriverFilterWrite) are accepted by vigil.ko
// in one write and do what the policy says (guest scenario
// test/qemu/guest/policy.sh); a write with one bad line changes nothing.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildDriverFilterWrite, enabledHookMask } from "../../agent/src/collectors/driver/driver-filters";
import { type DriverRecord, DriverRecordDecoder } from "../../agent/src/collectors/driver/record-decoder";
import { bootGuest, type GuestRun } from "../harness/qemu-guest";

const POLICY = {
  watchedPrefixes: ["/tmp/pol-watched/"],
  allowExecutables: ["/opt/allow/busybox"],
  disabledHooks: ["connect"],
};

describe("agent policy applied to vigil.ko in a real kernel (QEMU)", () => {
  let run: GuestRun | undefined;
  let files: string;
  let records: DriverRecord[] = [];
  let stats: DriverRecord[] = [];
  const pids: Record<string, number> = {};

  beforeAll(() => {
    files = mkdtempSync(join(tmpdir(), "vigil-policy-"));
    const good = join(files, "policy-write.txt");
    const bad = join(files, "policy-bad.txt");
    writeFileSync(good, buildDriverFilterWrite(POLICY));
    writeFileSync(bad, "watch /tmp/pol-refused/\nhook no-such-hook off\n");
    // The harness's own control line: a prefix the policy must replace.
    run = bootGuest("vigil-qemu-policy-", [
      "-s",
      "policy",
      "-a",
      good,
      "-a",
      bad,
      "-c",
      "watch /tmp/unwatched/",
    ]);
    records = run.records;
    stats = DriverRecordDecoder.decodeAll(readFileSync(join(run.out, "stats.bin"))).records;
    for (const line of readFileSync(join(run.out, "pids.txt"), "utf8").trim().split("\n")) {
      const [name, pid] = line.split("=");
      pids[name] = Number(pid);
    }
  }, 240_000);

  afterAll(() => {
    run?.cleanUp();
    rmSync(files, { recursive: true, force: true });
  });

  const paths = (key: string) => records.filter((r) => r.def.key === key).map((r) => String(r.fields.path));

  it("accepts the policy in one write and refuses the write with a bad line", () => {
    expect(run?.guestLog).toMatch(/policy write rc=0/);
    expect(run?.guestLog).toMatch(/bad policy write rc=1 .*Invalid argument/);
  });

  it("reports writes under the policy's prefix only: the old prefix and the refused one are gone", () => {
    const opened = paths("FILE_OPEN_WRITE").concat(paths("FILE_CREATE"));
    expect(opened).toContain("/tmp/pol-watched/by-shell");
    expect(opened).not.toContain("/tmp/unwatched/old-prefix");
    expect(opened).not.toContain("/tmp/pol-refused/refused-prefix");
  });

  it("a directory remembered as unwatched is reported once a rename or a mount move puts it under a watched prefix", () => {
    expect(run?.guestLog).toMatch(/mount --move rc=0/);
    const opened = paths("FILE_OPEN_WRITE").concat(paths("FILE_CREATE"));
    expect(opened).toEqual(
      expect.arrayContaining([
        "/tmp/pol-watched/renamed-dir/after-rename",
        "/tmp/pol-watched/moved-mnt/after-move",
      ]),
    );
    expect(opened.filter((path) => path.includes("/before"))).toEqual([]);
  });

  it("records nothing of the allow-listed executable but its exit", () => {
    expect(paths("FILE_OPEN_WRITE").concat(paths("FILE_CREATE"))).not.toContain(
      "/tmp/pol-watched/by-allowed",
    );
    // Only its exit remains: by then the kernel has dropped the process's
    // memory map (so its executable), and the exit closes the fork its
    // (not allow-listed) parent reported.
    const own = records.filter((r) => r.header.tgid === pids["allowed-write"]).map((r) => r.def.key);
    expect(own).toEqual(["EXIT"]);
    // The shell running the same busybox code from /bin is still seen.
    expect(records.some((r) => r.header.tgid === pids["shell-write"])).toBe(true);
  });

  it("a disabled hook goes quiet while the others still report the same connection", () => {
    expect(records.filter((r) => r.def.key === "CONNECT")).toEqual([]);
    const accepted = records.filter((r) => r.def.key === "ACCEPT" && r.header.tgid === pids.connector);
    expect(accepted).toHaveLength(1);
  });

  it("the STATS record shows the policy's hook mask", () => {
    const [last] = stats.filter((r) => r.def.key === "STATS").slice(-1);
    expect(BigInt(last?.fields.hooks_enabled as bigint)).toBe(enabledHookMask(POLICY.disabledHooks));
  });
});
