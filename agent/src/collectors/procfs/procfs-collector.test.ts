import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { silentLogger } from "@vigil/common";
import type { Event } from "@vigil/proto";
import { ProcfsCollector } from "./procfs-collector";

describe("procfs collector", () => {
  it("procfs - first scan inventories running processes with argv and ancestry", async () => {
    const child = spawn("sleep", ["5"], { stdio: "ignore" });
    try {
      await new Promise((resolve) => child.once("spawn", resolve));
      // Let exec complete so /proc shows sleep, not the forked node.
      await waitFor(() => readComm(child.pid ?? 0) === "sleep");
      const events: Event[] = [];
      const collector = new ProcfsCollector({ logger: silentLogger(), intervalMs: 60_000 });
      await collector.start((event) => events.push(event));
      await collector.stop();
      const seen = events.find((event) => event.process?.pid === child.pid);
      expect(seen?.payload?.$case).toBe("processSeen");
      expect(seen?.collector).toBe("procfs");
      expect(seen?.process?.args).toEqual(["sleep", "5"]);
      expect(seen?.process?.executable).toMatch(/\/sleep$/);
      expect(seen?.process?.ppid).toBe(process.pid);
      expect(seen?.process?.parent?.pid).toBe(process.pid);
      expect(seen?.process?.userName).toBe("root");
      expect(seen?.process?.startTimeUs).toBeGreaterThan(Date.now() * 1000 - 60e6);
      expect(events.length).toBeGreaterThan(2);
    } finally {
      child.kill();
    }
  });

  it("procfs - later scans report only new processes nobody else reported", async () => {
    const events: Event[] = [];
    const known = new Set<number>();
    const collector = new ProcfsCollector({
      logger: silentLogger(),
      intervalMs: 60_000,
      knownPids: (pid) => known.has(pid),
    });
    await collector.start((event) => events.push(event));
    const reported = spawn("sleep", ["5"], { stdio: "ignore" });
    const unreported = spawn("sleep", ["5"], { stdio: "ignore" });
    try {
      await waitFor(
        () => readComm(reported.pid ?? 0) === "sleep" && readComm(unreported.pid ?? 0) === "sleep",
      );
      known.add(reported.pid ?? 0);
      events.length = 0;
      collector.scan();
      const pids = events.map((event) => event.process?.pid);
      expect(pids).toContain(unreported.pid);
      expect(pids).not.toContain(reported.pid);
      events.length = 0;
      collector.scan();
      expect(events.map((event) => event.process?.pid)).not.toContain(unreported.pid);
    } finally {
      reported.kill();
      unreported.kill();
      await collector.stop();
    }
  });
});

function readComm(pid: number): string {
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
