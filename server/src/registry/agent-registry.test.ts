import type { AgentCounters } from "@vigil/proto";
import { boundedCounters, COUNTER_LIMITS } from "./agent-registry";

describe("agent registry - heartbeat counters are bounded per agent", () => {
  const base: AgentCounters = {
    eventsCollected: 1,
    eventsSent: 1,
    eventsDropped: 0,
    batchesSent: 1,
    batchesAcked: 1,
    batchesResent: 0,
    pendingBatches: 0,
    cpuPercent: 0,
    rssBytes: 0,
    droppedByReason: {},
    collectorCounters: {},
    config: undefined,
    agentVersion: "0.1.0",
    collectors: [{ name: "procfs", state: "running", lastError: "", restarts: 0, lastRestartUs: 0 }],
    eventsPerSecond: { exec: 2.5 },
    spoolBytes: 100,
    oldestUnackedAgeMs: 0,
    governor: undefined,
    lastError: "",
    tasks: {},
  };

  test("within bounds: kept as sent", () => {
    const counters = { ...base, collectorCounters: { "driver.bufferUsed": 5 } };
    expect(boundedCounters(counters)).toEqual({ counters, dropped: 0 });
  });

  test("too many entries, over-long keys and a long error are cut, and the cut is counted", () => {
    const many: Record<string, number> = {};
    for (let i = 0; i < COUNTER_LIMITS.maxEntries + 10; i++) many[`c.${i}`] = i;
    const { counters, dropped } = boundedCounters({
      ...base,
      collectorCounters: many,
      droppedByReason: { ["x".repeat(COUNTER_LIMITS.maxKeyChars + 1)]: 1, ok: 2 },
      config: {
        appliedVersion: 1,
        updatesApplied: 1,
        updatesRejected: 1,
        settingsIgnored: 0,
        lastError: "e".repeat(5000),
      },
    });
    expect(Object.keys(counters.collectorCounters)).toHaveLength(COUNTER_LIMITS.maxEntries);
    expect(counters.droppedByReason).toEqual({ ok: 2 });
    expect(counters.config?.lastError).toHaveLength(COUNTER_LIMITS.maxErrorChars);
    expect(dropped).toBe(11);
  });
});
