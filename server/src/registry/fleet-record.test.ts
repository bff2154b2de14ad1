import {
  agentStatus,
  decodeRecord,
  encodeRecord,
  type FleetAgentRecord,
  OFFLINE_AFTER_INTERVALS,
  STALE_AFTER_INTERVALS,
  supersedes,
} from "./fleet-record";

// How readers age a record: the status rules at fixed times.

const INTERVAL = 10_000;
const T = 1_800_000_000_000;

function record(overrides: Partial<FleetAgentRecord> = {}): FleetAgentRecord {
  return {
    agentId: "a1",
    hostname: "web-01",
    ips: ["10.0.0.5"],
    os: "Debian 12",
    kernel: "6.1.0",
    agentVersion: "0.1.0",
    driverVersion: "",
    labels: { env: "prod" },
    groups: ["web"],
    collectors: ["procfs"],
    state: "online",
    serverId: "server-a",
    sessionId: "s1",
    connectedMs: T - 60_000,
    firstSeenMs: T - 3_600_000,
    lastSeenMs: T,
    refreshedMs: T,
    heartbeatIntervalMs: INTERVAL,
    eventsReceived: 0,
    policyVersion: 0,
    counters: undefined,
    ...overrides,
  };
}

describe("fleet record - status", () => {
  test("online while the holding server rewrites it; offline once it stops for 1.5 intervals", () => {
    const r = record();
    expect(agentStatus(r, T + INTERVAL)).toBe("online");
    expect(agentStatus(r, T + INTERVAL * OFFLINE_AFTER_INTERVALS)).toBe("online");
    expect(agentStatus(r, T + INTERVAL * OFFLINE_AFTER_INTERVALS + 1)).toBe("offline");
  });

  test("a clean disconnect is offline at once", () => {
    expect(agentStatus(record({ state: "offline", disconnectedMs: T }), T)).toBe("offline");
  });

  test("stale: the stream is alive (record refreshed) but the agent silent for several intervals", () => {
    const silent = record({ lastSeenMs: T - INTERVAL * STALE_AFTER_INTERVALS - 1 });
    expect(agentStatus(silent, T)).toBe("stale");
    expect(agentStatus(record({ lastSeenMs: T - INTERVAL * STALE_AFTER_INTERVALS }), T)).toBe("online");
    // A silent agent whose server is gone is offline, not stale.
    expect(agentStatus(silent, T + INTERVAL * 2)).toBe("offline");
  });
});

describe("fleet record - split brain", () => {
  test("a newer online session supersedes; an older, an offline one or our own does not", () => {
    const mine = { connectedMs: T, sessionId: "s1" };
    expect(
      supersedes(record({ sessionId: "s2", connectedMs: T + 1 }), mine.connectedMs, mine.sessionId),
    ).toBe(true);
    expect(
      supersedes(record({ sessionId: "s2", connectedMs: T - 1 }), mine.connectedMs, mine.sessionId),
    ).toBe(false);
    expect(
      supersedes(
        record({ sessionId: "s2", connectedMs: T + 1, state: "offline" }),
        mine.connectedMs,
        mine.sessionId,
      ),
    ).toBe(false);
    expect(
      supersedes(record({ sessionId: "s1", connectedMs: T + 1 }), mine.connectedMs, mine.sessionId),
    ).toBe(false);
    // Same instant: the session id decides, the same way on both servers.
    expect(supersedes(record({ sessionId: "s2", connectedMs: T }), T, "s1")).toBe(true);
    expect(supersedes(record({ sessionId: "s1", connectedMs: T }), T, "s2")).toBe(false);
  });
});

describe("fleet record - encoding", () => {
  test("round trip; a value that is not a record decodes to undefined", () => {
    const r = record();
    expect(decodeRecord(encodeRecord(r))).toEqual(r);
    expect(decodeRecord(new TextEncoder().encode("not json"))).toBeUndefined();
    expect(decodeRecord(new TextEncoder().encode(JSON.stringify({ agentId: "a1" })))).toBeUndefined();
    expect(decodeRecord(encodeRecord(record({ heartbeatIntervalMs: 0 })))).toBeUndefined();
  });
});
