import { execFileSync, spawn } from "node:child_process";
import { appendFileSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isVigilError, silentLogger } from "@vigil/common";
import type { Event } from "@vigil/proto";
import { waitFor } from "../../../../test/harness/wait-for";
import { DriverCollector } from "./driver-collector";
import { DRIVER_EVENT_IDS as T } from "./event-table.gen";
import { concatAll, encodeRecord } from "./record-encoder";

// The device is stood in for by a regular file: the collector's control
// writes land at its start and the records the test appends are read back,
// through the same single read-write descriptor the real /dev/vigil gets.

describe("driver collector - /dev/vigil stream to agent events", () => {
  let dir: string;
  let device: string;
  let collector: DriverCollector | undefined;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "vigil-driver-"));
    device = join(dir, "vigil");
    writeFileSync(device, "");
  });
  afterEach(async () => {
    await collector?.stop();
    collector = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  test("sets watched prefixes and asks for stats on start, then maps records to typed and kernel events", async () => {
    const events: Event[] = [];
    collector = new DriverCollector({
      logger: silentLogger(),
      devicePath: device,
      watchedPrefixes: ["/etc/", "/srv/app/"],
    });
    await collector.start((event) => events.push(event));
    expect(readFileSync(device, "utf8")).toBe("clear-watch\nwatch /etc/\nwatch /srv/app/\nstats\n");

    appendFileSync(
      device,
      concatAll([
        encodeRecord(
          T.EXEC,
          { filename: "/usr/bin/cat", argc: 2, argv: ["cat", "/etc/shadow"], cwd: "/root" },
          { pid: 700, tgid: 700, uid: 1000, comm: "cat" },
        ),
        encodeRecord(
          T.DNS_QUERY,
          {
            protocol: 17,
            remote: { family: 2, port: 53, addr: [127, 0, 0, 53] },
            query_name: "evil.example",
            query_type: 1,
          },
          { pid: 701, tgid: 701 },
        ),
        encodeRecord(T.EXIT, { exit_code: 3 << 8, is_thread: 0 }, { pid: 700, tgid: 700 }),
        encodeRecord(T.DROPPED, { count: 5n, total: 9n }),
      ]),
    );
    await waitFor(() => events.length === 3, 2000, "three events");
    expect(events[0]).toMatchObject({
      collector: "driver",
      process: { pid: 700, uid: 1000, executable: "/usr/bin/cat", args: ["cat", "/etc/shadow"] },
      payload: { $case: "exec", value: { filename: "/usr/bin/cat", argv: ["cat", "/etc/shadow"] } },
    });
    expect(events[1].payload).toEqual({
      $case: "kernel",
      value: expect.objectContaining({
        type: "dns",
        category: "network",
        fields: expect.objectContaining({ query_name: "evil.example", remote: "127.0.0.53:53" }),
      }),
    });
    expect(events[2].payload).toEqual({ $case: "exit", value: { exitCode: 3, signal: 0 } });
    expect(collector.stats()).toMatchObject({
      events: 3,
      kernelEvents: 1,
      driverDropped: 9,
      decodeErrors: 0,
    });
    expect(collector.knowsPid(700)).toBe(false); // exited
  });

  test("garbage between records is counted and skipped, the records around it still arrive", async () => {
    const events: Event[] = [];
    collector = new DriverCollector({ logger: silentLogger(), devicePath: device, watchedPrefixes: [] });
    await collector.start((event) => events.push(event));
    appendFileSync(
      device,
      concatAll([
        encodeRecord(T.FORK, { child_pid: 801, child_tgid: 801, is_thread: 0 }, { pid: 800, tgid: 800 }),
        new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9]),
        encodeRecord(T.FORK, { child_pid: 802, child_tgid: 802, is_thread: 0 }, { pid: 800, tgid: 800 }),
      ]),
    );
    await waitFor(() => events.length === 2, 2000, "two fork events");
    expect(collector.knowsPid(801)).toBe(true);
    expect(collector.stats().decodeErrors).toBeGreaterThan(0);
  });

  test("records of the agent's own process are not reported", async () => {
    const events: Event[] = [];
    collector = new DriverCollector({ logger: silentLogger(), devicePath: device, watchedPrefixes: [] });
    await collector.start((event) => events.push(event));
    appendFileSync(
      device,
      encodeRecord(
        T.FORK,
        { child_pid: 9, child_tgid: 9, is_thread: 0 },
        { pid: process.pid, tgid: process.pid },
      ),
    );
    await waitFor(() => collector?.stats().ownEvents === 1, 2000, "own event counted");
    expect(events).toHaveLength(0);
  });

  test("a process started before the agent gets its executable, argv and parent from /proc", async () => {
    const child = spawn("sleep", ["30"], { stdio: "ignore" });
    try {
      const pid = child.pid as number;
      const events: Event[] = [];
      collector = new DriverCollector({ logger: silentLogger(), devicePath: device, watchedPrefixes: [] });
      await collector.start((event) => events.push(event));
      appendFileSync(
        device,
        encodeRecord(
          T.CONNECT,
          { protocol: 6, sock_type: 1, remote: { family: 2, port: 4444, addr: [192, 0, 2, 10] } },
          { pid, tgid: pid, ppid: process.pid, comm: "sleep" },
        ),
      );
      await waitFor(() => events.length === 1, 2000, "connect event");
      expect(events[0].process).toMatchObject({
        pid,
        executable: realpathSync(execFileSync("sh", ["-c", "command -v sleep"], { encoding: "utf8" }).trim()),
        args: ["sleep", "30"],
        parent: { pid: process.pid, executable: process.execPath },
      });
    } finally {
      child.kill("SIGKILL");
    }
  });

  test("without the module the collector says it is unavailable and what to do", () => {
    const missing = new DriverCollector({ logger: silentLogger(), devicePath: join(dir, "absent") });
    let error: unknown;
    try {
      missing.probe();
    } catch (caught) {
      error = caught;
    }
    expect(isVigilError(error, "VIGIL_ERR_COLLECTOR_UNAVAILABLE")).toBe(true);
    expect((error as Error).message).toContain("vigil.ko");
  });
});
