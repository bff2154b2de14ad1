import { execFile } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmdirSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isVigilError, silentLogger } from "@vigil/common";
import { AddressFamily, type Event } from "@vigil/proto";
import { FtraceCollector } from "./ftrace-collector";
import { locateTracefs } from "./tracefs";

const DEAD_PID = 4_000_000; // Almost never allocated (pid_max is at most 4194304); checked below.

/** One collector for the suite: setup costs ~150 ms and every test reads the same stream. */
const events: Event[] = [];
let collector: FtraceCollector;
let root: string;
let workDir: string;

async function waitForEvent(
  what: string,
  predicate: (event: Event) => boolean,
  timeoutMs = 5000,
): Promise<Event> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = events.find(predicate);
    if (found !== undefined) return found;
    if (Date.now() > deadline) {
      throw new Error(`no ${what} event within ${timeoutMs} ms; stats ${JSON.stringify(collector.stats())}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

beforeAll(async () => {
  // Never skip: without root and tracefs this suite must fail and say why.
  if (process.getuid?.() !== 0)
    throw new Error("ftrace tests need root (tracefs, uprobes); run jest as root");
  const found = await locateTracefs();
  if (found === undefined)
    throw new Error("ftrace tests need tracefs: mount -t tracefs nodev /sys/kernel/tracing");
  root = found;
  // Leftovers of a killed agent: must be gone after start.
  if (existsSync(`/proc/${DEAD_PID}`)) throw new Error(`pid ${DEAD_PID} unexpectedly alive`);
  mkdirSync(`${root}/instances/vigil-${DEAD_PID}`);
  writeFileSync(`${root}/uprobe_events`, `p:vigil_${DEAD_PID}/stale /bin/true:0x0\n`, { flag: "a" });
  workDir = mkdtempSync(join(tmpdir(), "vigil-ftrace-"));
  collector = new FtraceCollector({ logger: silentLogger(), pollIntervalMs: 10 });
  await collector.start((event) => events.push(event));
});

afterAll(async () => {
  await collector?.stop();
  if (workDir) rmSync(workDir, { recursive: true, force: true });
  if (root && existsSync(`${root}/instances/vigil-${DEAD_PID}`))
    rmdirSync(`${root}/instances/vigil-${DEAD_PID}`);
});

describe("ftrace collector", () => {
  it("ftrace - removes instances and probes of dead agents at start", () => {
    expect(existsSync(`${root}/instances/vigil-${DEAD_PID}`)).toBe(false);
    expect(readFileSync(`${root}/uprobe_events`, "utf8")).not.toContain(`vigil_${DEAD_PID}/`);
    expect(existsSync(`${root}/instances/vigil-${process.pid}`)).toBe(true);
    expect(readFileSync(`${root}/uprobe_events`, "utf8")).toContain(`vigil_${process.pid}/execve`);
  });

  it("ftrace - a short-lived exec has its exact argv, filename and ancestry", async () => {
    const child = execFile("/bin/sh", ["-c", "cat /etc/hostname /etc/shadow > /dev/null"]);
    const shPid = child.pid;
    await new Promise((resolve) => child.once("exit", resolve));
    const exec = await waitForEvent(
      "exec of cat",
      (event) =>
        event.payload?.$case === "exec" &&
        event.payload.value.argv[0] === "cat" &&
        event.process?.ppid === shPid,
    );
    if (exec.payload?.$case !== "exec") throw new Error("unreachable");
    expect(exec.payload.value).toEqual({
      filename: "/usr/bin/cat",
      argv: ["cat", "/etc/hostname", "/etc/shadow"],
      argvTruncated: false,
      result: 0,
    });
    expect(exec.collector).toBe("ftrace");
    expect(exec.process?.name).toBe("cat");
    expect(exec.process?.executable).toBe("/usr/bin/cat");
    expect(exec.process?.args).toEqual(["cat", "/etc/hostname", "/etc/shadow"]);
    expect(exec.process?.userName).toBe("root");
    expect(exec.process?.parent).toMatchObject({
      pid: shPid,
      name: "sh",
      args: ["/bin/sh", "-c", "cat /etc/hostname /etc/shadow > /dev/null"],
    });
    expect(exec.process?.grandparent?.pid).toBe(process.pid);
    expect(Math.abs(exec.timestampUs - Date.now() * 1000)).toBeLessThan(10e6);
    const exit = await waitForEvent(
      "exit of cat",
      (event) => event.payload?.$case === "exit" && event.process?.pid === exec.process?.pid,
    );
    expect(exit.payload).toEqual({ $case: "exit", value: { exitCode: 0, signal: 0 } });
  });

  it("ftrace - a read of /etc/shadow is reported as a sensitive open", async () => {
    const child = execFile("/bin/sh", ["-c", "exec head -c1 /etc/shadow"]);
    await new Promise((resolve) => child.once("exit", resolve));
    const open = await waitForEvent(
      "open of /etc/shadow",
      (event) =>
        event.payload?.$case === "fileOpen" &&
        event.payload.value.path === "/etc/shadow" &&
        event.process?.pid === child.pid,
    );
    if (open.payload?.$case !== "fileOpen") throw new Error("unreachable");
    expect(open.payload.value.flags & 3).toBe(0); // O_RDONLY
    expect(open.payload.value.result).toBeGreaterThanOrEqual(0);
    expect(open.process?.name).toBe("head");
  });

  it("ftrace - a relative write-open is resolved against the working directory", async () => {
    const child = execFile("/bin/sh", ["-c", "echo hi > ./sub/../written.txt"], { cwd: workDir });
    mkdirSync(join(workDir, "sub"), { recursive: true });
    await new Promise((resolve) => child.once("exit", resolve));
    const open = await waitForEvent(
      "write-open of written.txt",
      (event) => event.payload?.$case === "fileOpen" && event.payload.value.path.endsWith("written.txt"),
    );
    if (open.payload?.$case !== "fileOpen") throw new Error("unreachable");
    expect(open.payload.value.path).toBe(join(workDir, "written.txt"));
    expect(open.payload.value.flags & 0x241).toBe(0x241); // O_WRONLY|O_CREAT|O_TRUNC
    expect(open.process?.pid).toBe(child.pid);
    expect(open.process?.workingDirectory).toBe(workDir);
  });

  it("ftrace - a failed exec reports the filename and the error", async () => {
    const child = execFile("/bin/sh", ["-c", "/nonexistent/vigil-missing arg 2>/dev/null; exit 3"]);
    await new Promise((resolve) => child.once("exit", resolve));
    const failed = await waitForEvent(
      "failed exec",
      (event) =>
        event.payload?.$case === "exec" && event.payload.value.filename === "/nonexistent/vigil-missing",
    );
    expect(failed.payload).toEqual({
      $case: "exec",
      value: {
        filename: "/nonexistent/vigil-missing",
        argv: ["/nonexistent/vigil-missing", "arg"],
        argvTruncated: false,
        result: -2,
      },
    });
    const exit = await waitForEvent(
      "exit 3",
      (event) => event.payload?.$case === "exit" && event.process?.pid === child.pid,
    );
    expect(exit.payload).toEqual({ $case: "exit", value: { exitCode: 3, signal: 0 } });
  });

  it("ftrace - argv is taken verbatim from the binary records (no text-format spoofing)", async () => {
    const tricky = 'x" a1="spoof';
    const child = execFile("/bin/echo", [tricky, "", "end"]);
    await new Promise((resolve) => child.once("exit", resolve));
    const exec = await waitForEvent(
      "exec of echo",
      (event) => event.payload?.$case === "exec" && event.process?.pid === child.pid,
    );
    if (exec.payload?.$case !== "exec") throw new Error("unreachable");
    expect(exec.payload.value.argv).toEqual(["/bin/echo", tricky, "", "end"]);
  });

  it("ftrace - a loopback TCP connect gives destination address, port and result", async () => {
    const server: Server = createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as { port: number }).port;
    try {
      const child = execFile("/usr/bin/bash", ["-c", `exec 3<>/dev/tcp/127.0.0.1/${port}`]);
      await new Promise((resolve) => child.once("exit", resolve));
      const connect = await waitForEvent(
        "connect",
        (event) => event.payload?.$case === "connect" && event.payload.value.destinationPort === port,
      );
      expect(connect.payload).toMatchObject({
        $case: "connect",
        value: {
          family: AddressFamily.ADDRESS_FAMILY_INET,
          destinationIp: "127.0.0.1",
          destinationPort: port,
          result: 0,
        },
      });
      expect(connect.process?.pid).toBe(child.pid);
      expect(connect.process?.name).toBe("bash");
    } finally {
      server.close();
    }
  });

  it("ftrace - setresuid/setresgid give credential changes with old and new ids", async () => {
    const child = execFile("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", "true"]);
    await new Promise((resolve) => child.once("exit", resolve));
    const change = await waitForEvent(
      "setresuid",
      (event) =>
        event.payload?.$case === "credentialChange" &&
        event.payload.value.syscall === "setresuid" &&
        event.process?.pid === child.pid,
    );
    expect(change.payload).toEqual({
      $case: "credentialChange",
      value: {
        syscall: "setresuid",
        oldUid: 0,
        oldEuid: 0,
        oldGid: 0,
        newUid: 65534,
        newEuid: 65534,
        newGid: 0,
        result: 0,
      },
    });
    const gid = await waitForEvent(
      "setresgid",
      (event) =>
        event.payload?.$case === "credentialChange" &&
        event.payload.value.syscall === "setresgid" &&
        event.process?.pid === child.pid,
    );
    expect(gid.payload).toMatchObject({ value: { newGid: 65534, result: 0 } });
    // After the change the process is reported with its new identity: `true` runs as nobody.
    const exec = await waitForEvent(
      "exec of true",
      (event) =>
        event.payload?.$case === "exec" &&
        event.process?.pid === child.pid &&
        event.payload.value.argv[0] === "true",
    );
    expect(exec.process).toMatchObject({ uid: 65534, euid: 65534, userName: "nobody" });
  });

  it("ftrace - the agent's own activity is not reported", async () => {
    writeFileSync(join(workDir, "own.txt"), "x");
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(events.some((event) => event.process?.pid === process.pid)).toBe(false);
    expect(collector.stats().ownRecords).toBeGreaterThan(0);
  });

  it("ftrace - a poll that throws stops polling, health() says why, and a restart recovers", async () => {
    // One collector per process (the instance is named after the pid): this uses the suite's.
    expect(collector.health()).toEqual({ ok: true });
    const internals = collector as unknown as { correlator: { sweep(): void } };
    const sweep = internals.correlator.sweep;
    // Fault injection: the correlator's sweep runs at the end of every poll.
    internals.correlator.sweep = () => {
      throw new Error("injected");
    };
    const deadline = Date.now() + 2000;
    while (collector.health().ok && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(collector.health()).toEqual({ ok: false, error: "poll threw: injected" });
    internals.correlator.sweep = sweep;
    // What the watchdog does: stop, start again; the new run polls and reports.
    await collector.stop();
    await collector.start((event) => events.push(event));
    expect(collector.health()).toEqual({ ok: true });
    const marker = join(workDir, "after-restart.txt");
    writeFileSync(marker, "x");
    await new Promise<void>((resolve, reject) =>
      execFile("/bin/cat", [marker], (error) => (error ? reject(error) : resolve())),
    );
    await waitForEvent(
      "exec after the restart",
      (e) => e.payload?.$case === "exec" && e.payload.value.argv.includes(marker),
    );
  });

  it("ftrace - stop removes the instance and the uprobe group", async () => {
    await collector.stop();
    expect(existsSync(`${root}/instances/vigil-${process.pid}`)).toBe(false);
    expect(readFileSync(`${root}/uprobe_events`, "utf8")).not.toContain(`vigil_${process.pid}/`);
    await collector.stop(); // Idempotent.
    await new FtraceCollector({ logger: silentLogger() }).stop(); // Never started: nothing to do.
  });

  it("ftrace - stats count records and kernel losses", () => {
    const stats = collector.stats();
    expect(stats.records).toBeGreaterThan(0);
    expect(stats.lostEvents).toBe(0);
    expect(stats.handlerErrors).toBe(0);
    expect(stats.unknownRecords).toBe(0);
  });

  it("ftrace - probe() accepts this host and rejects a missing tracefs", async () => {
    await expect(new FtraceCollector({ logger: silentLogger() }).probe()).resolves.toBeUndefined();
    await expect(
      new FtraceCollector({ logger: silentLogger(), tracefsRoot: "/nonexistent" }).probe(),
    ).rejects.toThrow(/tracefs/);
  });

  it("ftrace - an unusable tracefs root fails with COLLECTOR_UNAVAILABLE and says what is needed", async () => {
    const broken = new FtraceCollector({ logger: silentLogger(), tracefsRoot: "/nonexistent/tracing" });
    const failure = await broken
      .start(() => undefined)
      .then(
        () => undefined,
        (error: unknown) => error,
      );
    expect(isVigilError(failure, "VIGIL_ERR_COLLECTOR_UNAVAILABLE")).toBe(true);
    expect((failure as Error).message).toMatch(/tracefs/);
  });
});
