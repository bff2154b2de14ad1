import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync, realpathSync } from "node:fs";
import { readBootTimeUs } from "../collectors/proc/boot-time";
import { UserNames } from "../collectors/proc/user-names";
import { ProcessCache } from "./process-cache";

function newCache(overrides: { maxEntries?: number; exitGraceMs?: number; now?: () => number } = {}) {
  return new ProcessCache({
    procRoot: "/proc",
    bootTimeUs: readBootTimeUs(),
    maxArgs: 256,
    userNames: new UserNames(),
    ...overrides,
  });
}

function comm(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, "utf8").trim();
  } catch {
    return "";
  }
}

async function waitFor(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** sh -c '…; sleep 30' with cwd /tmp: a real shell whose child is a real sleep. */
async function shellWithSleep(): Promise<{ shell: ChildProcess; sleepPid: number }> {
  const shell = spawn("sh", ["-c", "sleep 30; true"], { cwd: "/tmp", stdio: "ignore" });
  let sleepPid = 0;
  await waitFor(() => {
    const children = readFileSync(`/proc/${shell.pid}/task/${shell.pid}/children`, "utf8").trim();
    sleepPid = Number(children.split(" ")[0] || 0);
    return sleepPid > 0 && comm(sleepPid) === "sleep";
  });
  return { shell, sleepPid };
}

describe("process cache", () => {
  it("process cache - resolves a real child's ancestry, exe, argv, cwd, start time and user", async () => {
    const { shell, sleepPid } = await shellWithSleep();
    try {
      const cache = newCache();
      const snapshot = cache.get(sleepPid);
      expect(snapshot).toBeDefined();
      const process = cache.toProcess(snapshot ?? cache.getOrCreate(sleepPid));
      expect(process.executable).toBe(realpathSync(`/proc/${sleepPid}/exe`));
      expect(process.args).toEqual(["sleep", "30"]);
      expect(process.workingDirectory).toBe("/tmp");
      expect(process.ppid).toBe(shell.pid);
      expect(process.startTimeUs).toBeGreaterThan(Date.now() * 1000 - 30e6);
      expect(process.startTimeUs).toBeLessThanOrEqual(Date.now() * 1000 + 20_000);
      expect(process.userName).toBe("root");
      expect(process.parent?.pid).toBe(shell.pid);
      expect(process.parent?.args).toEqual(["sh", "-c", "sleep 30; true"]);
      expect(process.parent?.executable).toBe(realpathSync(`/proc/${shell.pid}/exe`));
      // The shell's parent is this jest worker.
      expect(process.grandparent?.pid).toBe(globalThis.process.pid);
      expect(process.grandparent?.executable).toBe(globalThis.process.execPath);
      // Read again: the same start time (the entity id must not move).
      expect(cache.refresh(sleepPid)?.startTimeUs).toBe(process.startTimeUs);
    } finally {
      shell.kill("SIGKILL");
    }
  });

  it("process cache - the /proc seed knows running processes before any event", async () => {
    const { shell, sleepPid } = await shellWithSleep();
    try {
      const cache = newCache();
      expect(cache.seed()).toBeGreaterThan(2);
      expect(cache.peek(sleepPid)?.args).toEqual(["sleep", "30"]);
      expect(cache.peek(shell.pid ?? 0)?.name).toBe("sh");
    } finally {
      shell.kill("SIGKILL");
    }
  });

  it("process cache - a fork inherits identity, login and container from its parent", () => {
    const cache = newCache();
    const parent = cache.getOrCreate(globalThis.process.pid);
    const child = cache.fork(globalThis.process.pid, 999_999_001, Date.now() * 1000);
    expect(child.executable).toBe(parent.executable);
    expect(child.cwd).toBe(parent.cwd);
    expect(child.loginUid).toBe(parent.loginUid);
    expect(child.loginSessionId).toBe(parent.loginSessionId);
    expect(child.containerId).toBe(parent.containerId);
    expect(cache.toProcess(child).parent?.pid).toBe(globalThis.process.pid);
  });

  it("process cache - an exited process resolves during the grace, and is gone after", async () => {
    let now = 1_000_000;
    const cache = newCache({ exitGraceMs: 5000, now: () => now });
    const child = spawn("sleep", ["30"], { stdio: "ignore" });
    await waitFor(() => comm(child.pid ?? 0) === "sleep");
    const pid = child.pid ?? 0;
    cache.get(pid);
    const grandchild = cache.fork(pid, 999_999_002, Date.now() * 1000);
    child.kill("SIGKILL");
    await new Promise((resolve) => child.once("exit", resolve));
    cache.markExited(pid);
    now += 4000;
    // Late event of the grandchild: its parent is still named.
    expect(cache.toProcess(grandchild).parent?.executable).toMatch(/sleep$/);
    expect(cache.get(pid)?.exited).toBe(true);
    now += 2000;
    expect(cache.peek(pid)).toBeUndefined();
    expect(cache.toProcess(grandchild).parent).toBeUndefined();
    expect(cache.counters.expired).toBe(1);
  });

  it("process cache - the LRU bound holds, the least recently touched go first", () => {
    const cache = newCache({ maxEntries: 100 });
    for (let pid = 1_000_000; pid < 1_000_250; pid++) cache.getOrCreate(pid);
    expect(cache.size).toBe(100);
    expect(cache.evictions).toBe(150);
    expect(cache.peek(1_000_000)).toBeUndefined();
    expect(cache.peek(1_000_249)).toBeDefined();
    // Touching an entry keeps it.
    cache.put(cache.peek(1_000_150) ?? cache.getOrCreate(1_000_150));
    for (let pid = 2_000_000; pid < 2_000_099; pid++) cache.getOrCreate(pid);
    expect(cache.peek(1_000_150)).toBeDefined();
    expect(cache.peek(1_000_151)).toBeUndefined();
  });

  it("process cache - a cache for another host's capture never reads this host's /proc", () => {
    const cache = new ProcessCache({
      procRoot: "/proc",
      bootTimeUs: 0,
      maxArgs: 256,
      userNames: new UserNames(),
      readProc: false,
    });
    expect(cache.get(globalThis.process.pid)).toBeUndefined();
    expect(cache.seed()).toBe(0);
  });
});
