import { type CapturedOutput, captureOutput } from "../../../test/harness/capture-output";
import {
  REPORTS_ADMIN_TOKEN,
  type ReportsServer,
  startReportsServer,
} from "../../../test/harness/reports-server";
import type { ApiOptions } from "./api-client";
import { generateReport, listReports, showReport } from "./reports";

// `vigil reports list|show|generate` against a server wired like embedded
// mode (real SQLite stores, startReports): the hand-counted day of
// test/harness/reports-server.ts as tables with trend arrows, JSON, and the
// errors named as the command's arguments.

describe("vigil reports - against a server with reports", () => {
  let env: ReportsServer;
  let output: CapturedOutput;
  const api = (token: string): ApiOptions => ({
    api: `http://127.0.0.1:${env.server.apiPort}`,
    token,
    json: false,
  });

  beforeAll(async () => {
    env = await startReportsServer("reports-cli");
    output = captureOutput();
  });

  afterAll(async () => {
    output?.restore();
    await env?.close();
  });

  /** The rows of the table under a section heading (up to the next blank line), columns split. */
  function sectionRows(title: string): string[][] {
    const lines = output.stdout().split("\n");
    const start = lines.findIndex((line) => line.startsWith(title));
    expect(start).toBeGreaterThanOrEqual(0);
    const rows: string[][] = [];
    for (const [index, line] of lines.slice(start + 1).entries()) {
      if (line === "") break;
      if (index === 0 && /^[A-Z0-9 ]+$/.test(line)) continue; // the table's header
      rows.push(line.trim().split(/\s{2,}/));
    }
    return rows;
  }

  test("generate - an operator builds the day holding a time; a viewer is refused with the role named", async () => {
    output.clear();
    await expect(
      generateReport({ ...api(env.viewer), level: "daily", at: "2026-02-03T12:34:00Z" }),
    ).rejects.toThrow(/^API 403: .*role/);
    await generateReport({ ...api(env.operator), level: "daily", at: "2026-02-03T12:34:00Z" });
    const lines = output.lines();
    expect(lines[0]).toBe("daily report 2026-02-03 · fleet · 2 hosts");
    expect(sectionRows("TOTALS, against 2026-02-02 (no report of it)")).toEqual([
      ["events", "7", "↑ +7 (new)"],
      ["alerts", "2", "↑ +2 (new)"],
      ["new executables", "5", "↑ +5 (new)"],
      ["new listening ports", "1", "↑ +1 (new)"],
      ["new destinations", "0", "→ 0"],
    ]);
  });

  test("show - a block against the block before: totals and event types with trend arrows, every section", async () => {
    output.clear();
    await showReport({ ...api(env.viewer), level: "block", at: "2026-02-03T13:00:00Z" });
    expect(output.lines()[0]).toBe("block report 2026-02-03T12:00Z+4h · fleet · 1 host");
    expect(sectionRows("TOTALS, against 2026-02-03T08:00Z+4h")[0]).toEqual(["events", "2", "↓ -3 (-60.0%)"]);
    expect(sectionRows("EVENTS BY TYPE")).toEqual([
      ["network/listen", "1", "↑ +1 (new)"],
      ["process/exec", "1", "↓ -4 (-80.0%)"],
    ]);
    expect(sectionRows("TOP COMMANDS")).toEqual([["1", "/usr/bin/id"]]);
    expect(sectionRows("NEW LISTENING PORTS (1)")).toEqual([
      ["2026-02-03 14:31:00", "h-web-1", "4444", "/usr/sbin/nc"],
    ]);
    expect(sectionRows("USERS")).toEqual([["root", "2"]]);
    expect(sectionRows("ALERTS BY RULE (1)")).toEqual([["1", "medium", "New listener"]]);
    expect(output.stdout()).toContain(
      "by severity: critical 0 · high 0 · medium 1 · low 0 · informational 0\n",
    );
  });

  test("show - a host's day by --host-id, and its JSON with the analysis field", async () => {
    output.clear();
    await showReport({ ...api(env.viewer), level: "3", at: "2026-02-03", hostId: "h-db-1" });
    expect(output.lines()[0]).toBe("daily report 2026-02-03 · db-1 (h-db-1) · 1 host");
    expect(sectionRows("TOP COMMANDS")).toEqual([
      ["1", "/usr/bin/id"],
      ["1", "/usr/bin/psql -c select"],
    ]);
    expect(sectionRows("ALERTS BY RULE (0)")).toEqual([["none"]]);

    output.clear();
    await showReport({
      ...api(env.viewer),
      json: true,
      level: "daily",
      at: "2026-02-03",
      scope: "host:h-db-1",
    });
    const answer = JSON.parse(output.stdout()) as {
      report: { id: string; events: { total: number } };
      analysis: null;
    };
    expect(answer.report).toMatchObject({
      id: "3/host:h-db-1/2026-02-03T00:00:00.000Z",
      events: { total: 2 },
    });
    expect(answer.analysis).toBeNull();
  });

  test("list - a table newest first, filtered; JSON lines", async () => {
    output.clear();
    await listReports({ ...api(env.viewer), level: "block", scope: "fleet" });
    const lines = output.lines();
    expect(lines[0]).toMatch(/^LEVEL\s+PERIOD\s+SCOPE\s+EVENTS\s+ALERTS\s+NEW EXES\s+ANALYSIS\s+GENERATED$/);
    expect(lines.slice(1).map((line) => line.split(/\s{2,}/).slice(0, 7))).toEqual([
      ["block", "2026-02-03T20:00Z+4h", "fleet", "0", "0", "0", "-"],
      ["block", "2026-02-03T16:00Z+4h", "fleet", "0", "0", "0", "-"],
      ["block", "2026-02-03T12:00Z+4h", "fleet", "2", "1", "1", "-"],
      ["block", "2026-02-03T08:00Z+4h", "fleet", "5", "1", "4", "-"],
    ]);

    output.clear();
    await listReports({ ...api(env.viewer), json: true, level: "cell", hostId: "h-web-1", limit: 2 });
    const rows = output.lines().map((line) => JSON.parse(line) as { id: string });
    expect(rows.map((row) => row.id)).toEqual([
      "1/host:h-web-1/2026-02-03T14:30:00.000Z",
      "1/host:h-web-1/2026-02-03T10:00:00.000Z",
    ]);
  });

  test("errors - named as the command's arguments, a missing report with how to build it", async () => {
    await expect(showReport({ ...api(env.viewer), level: "hourly", at: "2026-02-03" })).rejects.toThrow(
      '<level>: "hourly" is not a level (1-5 or cell, block, daily, weekly, monthly)',
    );
    await expect(showReport({ ...api(env.viewer), level: "daily", at: "Tuesday" })).rejects.toThrow(
      /^<time>: "Tuesday" is not a time/,
    );
    await expect(listReports({ ...api(env.viewer), scope: "fleet", hostId: "h-web-1" })).rejects.toThrow(
      /^--scope and --host-id: give one of them/,
    );
    await expect(listReports({ ...api(env.viewer), scope: "web-1" })).rejects.toThrow(
      '--scope: "web-1" is not "fleet" or "host:<host.id>"',
    );
    await expect(showReport({ ...api(env.viewer), level: "weekly", at: "2026-02-20" })).rejects.toThrow(
      "API 404: no weekly report of fleet for 2026-W08; `vigil reports generate weekly 2026-02-16T00:00:00.000Z` builds it (operator token)",
    );
    await expect(generateReport({ ...api(env.operator), level: "daily", at: "2099-01-01" })).rejects.toThrow(
      /^API 400: <time>: the daily period 2099-01-01 has not ended/,
    );
    await expect(
      listReports({ ...api(REPORTS_ADMIN_TOKEN), api: `http://127.0.0.1:${env.bare.apiPort}` }),
    ).rejects.toThrow(/^API 503: this server has no reports/);
  });
});
