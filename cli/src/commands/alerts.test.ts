import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type Alert,
  type AlertLevel,
  type Bus,
  createMemoryBus,
  SqliteAlertStore,
  silentLogger,
} from "@vigil/common";
import { serverConfigSchema, startVigilServer, type VigilServer } from "@vigil/server";
import { makeAlert } from "../../../test/doubles/alert-fixture";
import { type CapturedOutput, captureOutput } from "../../../test/harness/capture-output";
import { waitFor } from "../../../test/harness/wait-for";
import { showAlerts } from "./alerts";
import { followAlertsApi } from "./alerts-follow";
import type { ApiOptions } from "./api-client";

// `vigil alerts` against an embedded-mode server whose API reads a real
// SQLite alert store: filters, the table and JSON lines; --follow through the
// API prints alerts stored while it runs, once each, late ones included.

const TOKEN = "cli-alerts-admin-token-0123456789";

function alert(
  seed: number,
  timeMs: number,
  options: { level?: AlertLevel; host?: string; rule?: string } = {},
): Alert {
  const made = makeAlert({
    seed,
    level: options.level,
    hostName: options.host,
    ruleId: options.rule,
    ruleName: options.rule ? `Rule ${options.rule}` : undefined,
    timestampUs: timeMs * 1000,
  });
  (made.document.vigil as Record<string, unknown>).alert = { level: made.level };
  return made;
}

describe("vigil alerts - against an embedded server with a SQLite store", () => {
  let bus: Bus;
  let server: VigilServer;
  let store: SqliteAlertStore;
  let dir: string;
  let api: ApiOptions;
  let output: CapturedOutput;
  const now = Date.now();

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "cli-alerts-"));
    store = new SqliteAlertStore({ path: join(dir, "alerts.db") });
    bus = createMemoryBus();
    const config = serverConfigSchema.parse({
      serverId: "cli-alerts",
      grpc: { port: 0, agentToken: "cli-alerts-agent-token-0123456789" },
      api: { port: 0, token: TOKEN },
    });
    server = await startVigilServer({ config, bus, logger: silentLogger(), alertReader: store });
    api = { api: `http://127.0.0.1:${server.apiPort}`, token: TOKEN, json: false };
    // Three hours of history: one alert a minute back to 3h ago on two hosts.
    await store.write([
      alert(1, now - 3 * 3_600_000, { level: "low", host: "db-01", rule: "r-old" }),
      alert(2, now - 30 * 60_000, { level: "high", host: "web-01", rule: "r-shell" }),
      alert(3, now - 20 * 60_000, { level: "critical", host: "web-02", rule: "r-shell" }),
      alert(4, now - 10 * 60_000, { level: "medium", host: "web-01", rule: "r-cron" }),
    ]);
    output = captureOutput();
  });

  afterAll(async () => {
    output?.restore();
    await server?.close(0);
    await bus?.close();
    store?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test("vigil alerts - newest N oldest first as a table, the count on stderr; filters reach the API", async () => {
    output.clear();
    await showAlerts({ ...api, limit: 2 });
    const lines = output.lines();
    expect(lines[0]).toMatch(/^TIME\s+AGE\s+LEVEL\s+HOST\s+RULE\s+MESSAGE$/);
    expect(lines[1]).toMatch(
      /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s+20m ago\s+CRITICAL\s+web-02\s+Rule r-shell\s+Rule r-shell on web-02$/,
    );
    expect(lines[2]).toMatch(/\s+10m ago\s+MEDIUM\s+web-01\s+Rule r-cron\s/);
    expect(lines).toHaveLength(3);
    expect(output.stderr()).toBe("2 newest of 4 alerts (--limit, --since/--until for others)\n");

    const ids = async (filters: Record<string, unknown>) => {
      output.clear();
      await showAlerts({ ...api, json: true, limit: 50, ...filters });
      return output.lines().map((line) => (JSON.parse(line).vigil as { seed: string }).seed);
    };
    expect(await ids({})).toEqual(["1", "2", "3", "4"]);
    expect(await ids({ level: "high" })).toEqual(["2", "3"]);
    expect(await ids({ levels: ["low", "medium"] })).toEqual(["1", "4"]);
    expect(await ids({ host: "web-01" })).toEqual(["2", "4"]);
    expect(await ids({ rule: "r-shell" })).toEqual(["2", "3"]);
    expect(await ids({ text: "WEB-02" })).toEqual(["3"]);
    expect(await ids({ since: new Date(now - 25 * 60_000).toISOString() })).toEqual(["3", "4"]);
    expect(await ids({ until: new Date(now - 25 * 60_000).toISOString() })).toEqual(["1", "2"]);
  });

  test("vigil alerts - a bad filter is the API's 400 naming it", async () => {
    await expect(
      showAlerts({
        ...api,
        limit: 5,
        since: new Date(now).toISOString(),
        until: new Date(now - 1000).toISOString(),
      }),
    ).rejects.toThrow("API 400: until: must be later than since");
  });

  test("vigil alerts --follow - alerts stored while following print once each, late ones too, filters kept", async () => {
    output.clear();
    const stop = new AbortController();
    const following = followAlertsApi({
      ...api,
      json: true,
      level: "medium",
      limit: 2,
      pollMs: 50,
      lookbackMs: 60 * 60_000,
      signal: stop.signal,
    });
    const seeds = () => output.lines().map((line) => (JSON.parse(line).vigil as { seed: string }).seed);
    // History first: the newest two at or above medium.
    await waitFor(() => seeds().length === 2, 5000, "history");
    expect(seeds()).toEqual(["3", "4"]);

    await store.write([alert(10, Date.now(), { level: "high" })]);
    await waitFor(() => seeds().length === 3, 5000, "a new alert");
    // Late: its event is 40 minutes old, older than everything printed so far.
    await store.write([
      alert(11, now - 40 * 60_000, { level: "critical" }),
      alert(12, Date.now(), { level: "low" }),
    ]);
    await store.write([alert(13, Date.now(), { level: "medium" })]);
    await waitFor(() => seeds().length === 5, 5000, "the late alert and the next one");
    // Written again (a redelivery): the same id is not printed twice.
    await store.write([alert(13, Date.now(), { level: "medium" }), alert(14, Date.now(), { level: "high" })]);
    await waitFor(() => seeds().length === 6, 5000, "the alert after the redelivery");
    stop.abort();
    await following;
    expect(seeds()).toEqual(["3", "4", "10", "11", "13", "14"]);
  });
});
