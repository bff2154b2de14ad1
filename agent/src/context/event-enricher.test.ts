import { createHash } from "node:crypto";
import { readFileSync, realpathSync } from "node:fs";
import { processEntityId } from "@vigil/common";
import type { Event } from "@vigil/proto";
import { shellProcess } from "../../../test/fixtures/sample-events";
import { EventEnricher } from "./event-enricher";
import { ExecutableHasher } from "./executable-hasher";

const SH = realpathSync("/bin/sh");

function exec(pid: number, executable: string): Event {
  return {
    timestampUs: Date.now() * 1000,
    collector: "driver",
    process: shellProcess(pid, ["sh"], executable),
    payload: {
      $case: "exec",
      value: {
        filename: executable,
        argv: ["sh"],
        argvTruncated: false,
        result: 0,
        stdin: undefined,
        stdout: undefined,
        stderr: undefined,
      },
    },
  };
}

function exit(pid: number, executable: string): Event {
  return { ...exec(pid, executable), payload: { $case: "exit", value: { exitCode: 0, signal: 0 } } };
}

describe("event enricher", () => {
  it("event enricher - entity ids are the server's, an exec waits (bounded) for its real hash, order kept", async () => {
    const out: Event[] = [];
    const hasher = new ExecutableHasher({ maxBytes: 1 << 30 });
    const enricher = new EventEnricher(
      { agentId: "agent-1", hasher, hashWaitMs: 5000, maxProcesses: 100 },
      (event) => out.push(event),
    );
    enricher.add(exec(4242, SH));
    enricher.add(exit(4242, SH));
    expect(out).toHaveLength(0);
    const deadline = Date.now() + 5000;
    while (out.length < 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
    expect(out.map((event) => event.payload?.$case)).toEqual(["exec", "exit"]);
    const sha = createHash("sha256").update(readFileSync(SH)).digest("hex");
    expect(out[0].process?.sha256).toBe(sha);
    expect(out[1].process?.sha256).toBe(sha);
    const process = out[0].process;
    expect(process?.entityId).toBe(processEntityId("agent-1", 4242, process?.startTimeUs ?? 0));
    expect(process?.parent?.entityId).toBe(
      processEntityId("agent-1", 4100, process?.parent?.startTimeUs ?? 0),
    );
    expect(process?.grandparent?.entityId).toBe(
      processEntityId("agent-1", 4000, process?.grandparent?.startTimeUs ?? 0),
    );
    // Known now: the next event of the process is not held.
    enricher.add(exit(4242, SH));
    expect(out).toHaveLength(3);
    expect(out[2].process?.sha256).toBe(sha);
  });

  it("event enricher - the first event of a process seen without its exec (here its exit) also waits for the hash", async () => {
    const out: Event[] = [];
    const hasher = new ExecutableHasher({ maxBytes: 1 << 30 });
    const enricher = new EventEnricher(
      { agentId: "agent-1", hasher, hashWaitMs: 5000, maxProcesses: 100 },
      (event) => out.push(event),
    );
    enricher.add(exit(5151, SH));
    expect(out).toHaveLength(0);
    const deadline = Date.now() + 5000;
    while (out.length < 1 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
    expect(out[0].process?.sha256).toBe(createHash("sha256").update(readFileSync(SH)).digest("hex"));
    expect(enricher.counters.hashWaited).toBe(1);
    expect(enricher.counters.hashWaitTimedOut).toBe(0);
  });

  it("event enricher - hashWaitMs 0 never holds; flush releases what waits", async () => {
    const out: Event[] = [];
    const hasher = new ExecutableHasher({ maxBytes: 1 << 30 });
    const noWait = new EventEnricher({ agentId: "a", hasher, hashWaitMs: 0, maxProcesses: 100 }, (event) =>
      out.push(event),
    );
    noWait.add(exec(1, SH));
    expect(out).toHaveLength(1);
    expect(out[0].process?.sha256).toBe("");
    const waiting = new EventEnricher(
      { agentId: "a", hasher, hashWaitMs: 5000, maxProcesses: 100 },
      (event) => out.push(event),
    );
    waiting.add(exec(2, process.execPath));
    expect(waiting.heldEvents).toBe(1);
    waiting.flush();
    expect(out).toHaveLength(2);
    expect(waiting.heldEvents).toBe(0);
  });
});
