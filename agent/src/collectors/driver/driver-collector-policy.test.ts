import fs, { appendFileSync, chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type AgentPolicy, silentLogger } from "@vigil/common";
import { waitFor } from "../../../../test/harness/wait-for";
import { DriverCollector } from "./driver-collector";
import { DRIVER_EVENT_IDS as T, VIGIL_TYPE_MAX } from "./event-table.gen";
import { encodeRecord } from "./record-encoder";

// /dev/vigil is stood in for by a regular file (as in driver-collector.test.ts):
// every control write lands in it, so the exact bytes are checked here. That
// the real driver accepts these commands is checked in QEMU (test/qemu).

const START = "clear-watch\nwatch /local/\nstats\n";

/** A STATS per-type blob: one little-endian u64 per record type id 0..VIGIL_TYPE_MAX. */
function perType(values: Record<number, bigint>): Uint8Array {
  const blob = new Uint8Array((VIGIL_TYPE_MAX + 1) * 8);
  const view = new DataView(blob.buffer);
  for (const [id, value] of Object.entries(values)) view.setBigUint64(Number(id) * 8, value, true);
  return blob;
}

describe("driver collector - server policy applied as driver filters", () => {
  let dir: string;
  let device: string;
  let collector: DriverCollector | undefined;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), "vigil-driver-policy-"));
    device = join(dir, "vigil");
    writeFileSync(device, "");
    collector = new DriverCollector({
      logger: silentLogger(),
      devicePath: device,
      watchedPrefixes: ["/local/"],
    });
    await collector.start(() => undefined);
    expect(readFileSync(device, "utf8")).toBe(START);
  });
  afterEach(async () => {
    jest.restoreAllMocks();
    await collector?.stop();
    collector = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  const written = () => readFileSync(device, "utf8").slice(START.length);

  test("the policy becomes one write; an unchanged policy writes nothing", () => {
    const exe = join(dir, "allowed-tool");
    writeFileSync(exe, "#!/bin/sh\n");
    chmodSync(exe, 0o755);
    const policy: AgentPolicy = {
      driver: {
        watchedPrefixes: ["/etc/", "/srv/"],
        allowExecutables: [exe, "2049:77"],
        disabledHooks: ["fork"],
      },
    };
    expect(collector?.applyPolicy(policy)).toEqual({ ok: true, changed: true });
    const expected = `clear-watch\nwatch /etc/\nwatch /srv/\nclear-allow\nallow-exe ${exe}\nallow-ino 2049 77\nhook all on\nhook fork off\nstats\n`;
    expect(written()).toBe(expected);
    expect(collector?.applyPolicy(policy)).toEqual({ ok: true, changed: false });
    expect(written()).toBe(expected);
    expect(collector?.stats()).toMatchObject({ filterUpdatesApplied: 1, filterUpdatesRefused: 0 });
  });

  test("lists the server does not set fall back to the local watched prefixes, no allow-list, every hook on", () => {
    expect(collector?.applyPolicy({ driver: {} })).toEqual({ ok: true, changed: true });
    expect(written()).toBe("clear-watch\nwatch /local/\nclear-allow\nhook all on\nstats\n");
    // An explicit empty list is not "unset": the file hooks then watch nothing.
    collector?.applyPolicy({ driver: { watchedPrefixes: [] } });
    expect(written()).toMatch(/stats\nclear-watch\nclear-allow\nhook all on\nstats\n$/);
  });

  test("allow-listed paths this host does not have are left out and counted, not sent to be refused", () => {
    expect(collector?.applyPolicy({ driver: { allowExecutables: ["/opt/nowhere/tool", "8:9"] } })).toEqual({
      ok: true,
      changed: true,
    });
    expect(written()).toBe("clear-watch\nwatch /local/\nclear-allow\nallow-ino 8 9\nhook all on\nstats\n");
    expect(collector?.stats().allowExecutablesMissing).toBe(1);
  });

  test("filters beyond the driver's limits are refused with the reason, nothing is written", () => {
    const prefixes = Array.from({ length: 65 }, (_, i) => `/p${i}/`);
    expect(collector?.applyPolicy({ driver: { watchedPrefixes: prefixes } })).toEqual({
      ok: false,
      error: "65 watched prefixes; the driver takes at most 64",
    });
    expect(written()).toBe("");
    expect(collector?.stats().filterUpdatesRefused).toBe(1);
  });

  test("when the driver refuses the write (EINVAL) the previous filters stay and the next apply writes again", () => {
    collector?.applyPolicy({ driver: { watchedPrefixes: ["/etc/"] } });
    const before = written();
    jest.spyOn(fs, "writeSync").mockImplementationOnce(() => {
      throw Object.assign(new Error("EINVAL: invalid argument, write"), { code: "EINVAL" });
    });
    expect(collector?.applyPolicy({ driver: { watchedPrefixes: ["/var/"] } })).toEqual({
      ok: false,
      error: "the driver refused the filter commands (EINVAL)",
    });
    expect(written()).toBe(before);
    expect(collector?.stats()).toMatchObject({ filterUpdatesApplied: 1, filterUpdatesRefused: 1 });
    // The refused set is not taken for applied: the same policy is written once the driver takes it.
    expect(collector?.applyPolicy({ driver: { watchedPrefixes: ["/var/"] } })).toEqual({
      ok: true,
      changed: true,
    });
    expect(written()).toBe(`${before}clear-watch\nwatch /var/\nclear-allow\nhook all on\nstats\n`);
  });

  test("the driver's STATS record becomes counters: ring buffer, hook mask, per-hook records and drops", async () => {
    appendFileSync(
      device,
      encodeRecord(T.STATS, {
        records: 1234n,
        dropped: 7n,
        buffer_size: 4_194_304,
        buffer_used: 65_536,
        hooks_enabled: 0x1fffffdn,
        hook_counts: perType({ [T.EXEC]: 1000n, [T.FORK]: 200n, [T.STATS]: 3n }),
        hook_drops: perType({ [T.EXEC]: 5n, [T.CONNECT]: 2n }),
      }),
    );
    await waitFor(() => collector?.stats().kernelRecords === 1234, 2000, "STATS decoded");
    const stats = collector?.stats() ?? {};
    expect(stats).toMatchObject({
      kernelRecords: 1234,
      driverDropped: 7,
      bufferSize: 4_194_304,
      bufferUsed: 65_536,
      hooksEnabledMask: 0x1fffffd,
      "hookRecords.exec": 1000,
      "hookRecords.fork": 200,
      "hookRecords.connect": 0,
      "hookDrops.exec": 5,
      "hookDrops.connect": 2,
      "hookRecords.device_opened": 0,
    });
    // Meta records are not hooks.
    expect(stats["hookRecords.stats"]).toBeUndefined();
    expect(stats["hookDrops.dropped"]).toBeUndefined();
  });

  test("before start there is no device to write to: refused, not thrown", async () => {
    const idle = new DriverCollector({ logger: silentLogger(), devicePath: device });
    expect(idle.applyPolicy({ driver: {} })).toEqual({ ok: false, error: `${device} is not open` });
  });
});
