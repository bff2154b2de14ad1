import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isVigilError, silentLogger } from "@vigil/common";
import type { Event } from "@vigil/proto";
import { agentConfigSchema } from "../../config";
import { buildCollectors } from "../../start-agent";
import { DriverReplayCollector } from "./driver-replay-collector";
import { DRIVER_EVENT_IDS as T } from "./event-table.gen";
import { concatAll, encodeRecord } from "./record-encoder";

// Captures are built with the same encoder the decoder tests use, written to
// real files, and replayed: the events must be what the live collector makes of
// the same records (shared DriverRecordHandler), with process context from the
// stream and nothing written anywhere.

const T0 = 1_700_000_000_000_000_000n;
const at = (ms: number) => ({ tsRealNs: T0 + BigInt(ms) * 1_000_000n });
const remote = (port: number) => ({ family: 2, port, addr: [192, 0, 2, 10] });

/** A shell (pid 100) that forks a child (101) which connects out, writes a cron file and exits. */
function shellCapture(): Uint8Array {
  return concatAll([
    encodeRecord(
      T.EXEC,
      { filename: "/bin/bash", argc: 2, argv: ["bash", "-i"], cwd: "/root" },
      { pid: 100, tgid: 100, ppid: 1, uid: 1000, euid: 1000, comm: "bash", ...at(0) },
    ),
    encodeRecord(
      T.FORK,
      { child_pid: 101, child_tgid: 101, is_thread: 0 },
      { pid: 100, tgid: 100, ppid: 1, uid: 1000, comm: "bash", ...at(1) },
    ),
    encodeRecord(
      T.CONNECT,
      { protocol: 6, sock_type: 1, remote: remote(4444), result: 0 },
      { pid: 101, tgid: 101, ppid: 100, uid: 1000, comm: "bash", ...at(2) },
    ),
    // One open(O_CREAT|O_WRONLY): the module reports the create, then the open.
    encodeRecord(
      T.FILE_CREATE,
      { path: "/etc/cron.d/job", mode: 0o100644 },
      { pid: 101, tgid: 101, ppid: 100, comm: "bash", ...at(3) },
    ),
    encodeRecord(
      T.FILE_OPEN_WRITE,
      { path: "/etc/cron.d/job", flags: 0o1101, mode: 0o644 },
      { pid: 101, tgid: 101, ppid: 100, comm: "bash", ...at(3) },
    ),
    // mknod without an open: the create stands alone.
    encodeRecord(
      T.FILE_CREATE,
      { path: "/etc/fifo", mode: 0o100600 },
      { pid: 101, tgid: 101, ppid: 100, comm: "bash", ...at(4) },
    ),
    encodeRecord(T.EXIT, { exit_code: 0, is_thread: 0 }, { pid: 101, tgid: 101, ppid: 100, ...at(5) }),
    // The capturing host's driver counters: not events, and not this agent's.
    encodeRecord(T.STATS, { records: 42n, dropped: 0n, buffer_size: 4096, buffer_used: 100 }, at(6)),
  ]);
}

describe("driver replay collector - captured /dev/vigil streams through the driver's record handling", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "vigil-driver-replay-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  async function replay(files: string[], rebaseTime = false) {
    const events: Event[] = [];
    const collector = new DriverReplayCollector({ files, rebaseTime, logger: silentLogger() });
    await collector.start((event) => events.push(event));
    await collector.whenDone();
    await collector.stop();
    return { events, collector };
  }

  test("every event carries its process from the stream: executable, argv and parent of a forked child", async () => {
    const file = join(dir, "shell.bin");
    const bytes = shellCapture();
    writeFileSync(file, bytes);
    const { events, collector } = await replay([file]);

    expect(events.map((e) => e.payload?.$case)).toEqual([
      "exec",
      "fork",
      "connect",
      "fileOpen",
      "kernel",
      "exit",
    ]);
    const connect = events[2];
    expect(connect.collector).toBe("driver");
    expect(connect.timestampUs).toBe(Number((T0 + 2_000_000n) / 1000n));
    expect(connect.process).toMatchObject({
      pid: 101,
      ppid: 100,
      uid: 1000,
      executable: "/bin/bash",
      args: ["bash", "-i"],
      parent: { pid: 100, executable: "/bin/bash", args: ["bash", "-i"] },
    });
    expect(connect.payload).toMatchObject({
      $case: "connect",
      value: { destinationIp: "192.0.2.10", destinationPort: 4444 },
    });
    // The create + open of one open(O_CREAT) is one event, marked created, with the create's mode.
    expect(events[3].payload).toEqual({
      $case: "fileOpen",
      value: { path: "/etc/cron.d/job", flags: 0o1101, mode: 0o644, result: 0, created: true },
    });
    expect(events[3].process?.executable).toBe("/bin/bash");
    expect(events[4].payload).toMatchObject({
      $case: "kernel",
      value: { type: "file_create", fields: { path: "/etc/fifo" } },
    });
    expect(collector.stats()).toEqual({
      files: 1,
      bytes: bytes.length,
      events: 6,
      kernelEvents: 1,
      driverRecords: 8,
      driverDropped: 0,
      decodeErrors: 0,
      decodeResyncs: 0,
    });
    // Read-only: the capture is untouched (no control command written into it).
    expect(Buffer.compare(readFileSync(file), Buffer.from(bytes))).toBe(0);
  });

  test("records of the replaying process's pid are reported: the capture is from another host", async () => {
    const file = join(dir, "own.bin");
    writeFileSync(
      file,
      encodeRecord(
        T.EXEC,
        { filename: "/bin/true", argv: ["true"] },
        { pid: process.pid, tgid: process.pid, ...at(0) },
      ),
    );
    const { events } = await replay([file]);
    expect(events).toHaveLength(1);
    expect(events[0].process?.pid).toBe(process.pid);
  });

  test("a capture larger than one read is reassembled across chunks; files are separate streams", async () => {
    const records: Uint8Array[] = [];
    for (let pid = 2000; pid < 5000; pid++) {
      records.push(
        encodeRecord(
          T.EXEC,
          { filename: "/usr/bin/env", argv: ["env", "-i", `N=${pid}`], cwd: "/" },
          { pid, tgid: pid, ppid: 1, ...at(pid) },
        ),
      );
    }
    const big = join(dir, "big.bin");
    writeFileSync(big, concatAll(records));
    const small = join(dir, "shell.bin");
    writeFileSync(small, shellCapture());
    const { events, collector } = await replay([big, small], true);
    expect(events).toHaveLength(3000 + 6);
    expect(events[2999].process?.args).toEqual(["env", "-i", "N=4999"]);
    expect(collector.stats()).toMatchObject({ files: 2, decodeErrors: 0 });
    // Rebased: the first record happened "now", later ones keep their spacing.
    expect(Math.abs((events[0]?.timestampUs ?? 0) - Date.now() * 1000)).toBeLessThan(60_000_000);
    expect((events[1]?.timestampUs ?? 0) - (events[0]?.timestampUs ?? 0)).toBe(1000);
  });

  test("garbage inside a capture is counted and skipped, the records around it still arrive", async () => {
    const file = join(dir, "damaged.bin");
    const exec = encodeRecord(T.EXEC, { filename: "/bin/sh", argv: ["sh"] }, { pid: 7, tgid: 7, ...at(0) });
    const connect = encodeRecord(
      T.CONNECT,
      { protocol: 6, remote: remote(80) },
      { pid: 7, tgid: 7, ...at(1) },
    );
    writeFileSync(file, concatAll([exec, new Uint8Array(37).fill(0xab), connect]));
    const { events, collector } = await replay([file]);
    expect(events.map((e) => e.payload?.$case)).toEqual(["exec", "connect"]);
    expect(events[1].process?.executable).toBe("/bin/sh");
    expect(collector.stats().decodeErrors).toBeGreaterThan(0);
  });

  test("bad input: a missing file, a file that is not a capture, no file at all - errors that name the file", async () => {
    const missing = new DriverReplayCollector({ files: [join(dir, "absent.bin")], logger: silentLogger() });
    await expect(missing.start(() => undefined)).rejects.toThrow(/absent\.bin: cannot replay driver capture/);

    const json = join(dir, "events.jsonl");
    writeFileSync(json, '{"timestampUs":1,"exec":{"filename":"/bin/true"}}\n');
    const notCapture = new DriverReplayCollector({ files: [json], logger: silentLogger() });
    const events: Event[] = [];
    await notCapture.start((event) => events.push(event));
    const error = await notCapture.whenDone().then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(isVigilError(error, "VIGIL_ERR_REPLAY_INPUT")).toBe(true);
    expect((error as Error).message).toMatch(
      /events\.jsonl: no vigil\.ko record .*not a raw \/dev\/vigil capture/,
    );
    expect(events).toHaveLength(0);

    expect(() => new DriverReplayCollector({ files: [], logger: silentLogger() })).toThrow(/no capture file/);
  });

  test("agent configuration: driver-replay needs files, and builds the replay collector", async () => {
    expect(() => agentConfigSchema.parse({ collectors: ["driver-replay"] })).toThrow(/driverReplay/);
    const file = join(dir, "shell.bin");
    writeFileSync(file, shellCapture());
    const config = agentConfigSchema.parse({
      collectors: ["driver-replay"],
      driverReplay: { files: [file] },
    });
    expect(config.driverReplay.rebaseTime).toBe(false);
    const collectors = await buildCollectors(config, silentLogger());
    expect(collectors.map((c) => c.name)).toEqual(["driver-replay"]);
    expect(collectors[0]).toBeInstanceOf(DriverReplayCollector);
  });
});
