// Tiered reports in embedded mode (`vigil start`): on by default, the reverse
// shell scenario replayed through agent, server and hub into dataDir's event
// and alert stores, then the schedule's clock moved past the cells the events
// fell in: level-1 files appear under dataDir/reports, per host and for the
// fleet, holding exactly what the stores hold.

import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { silentLogger } from "@vigil/common";
import type { Report } from "@vigil/hub";
import { type EmbeddedVigil, startEmbedded } from "../../cli/src/commands/embedded";
import { waitFor } from "../harness/wait-for";

const SCENARIO = join(__dirname, "..", "e2e", "scenarios", "reverse-shell.jsonl");
const EXPECTED_ALERTS = (
  JSON.parse(
    readFileSync(join(__dirname, "..", "e2e", "scenarios", "reverse-shell.expected.json"), "utf8"),
  ) as unknown[]
).length;
const SCENARIO_EVENTS = readFileSync(SCENARIO, "utf8")
  .split("\n")
  .filter((line) => line.trim().startsWith("{")).length;
const CELL_MS = 15 * 60_000;

function count(path: string, sql: string): number {
  if (!existsSync(path)) return 0;
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    return (db.prepare(sql).get() as { n: number }).n;
  } catch {
    return 0; // the table is not created yet
  } finally {
    db.close();
  }
}

function readReports(dir: string): Report[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((file) => file.endsWith(".json") && !file.endsWith(".analysis.json"))
    .map((file) => JSON.parse(readFileSync(join(dir, file), "utf8")) as Report);
}

describe("reports - embedded mode", () => {
  const dir = mkdtempSync(join(tmpdir(), "reports-embedded-"));
  const dataDir = join(dir, "data");
  let running: EmbeddedVigil | undefined;
  let clock: number | undefined;

  afterAll(async () => {
    await running?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test("replayed events become level-1 report files for the host and the fleet", async () => {
    const configFile = join(dir, "vigil.yml");
    // Ticks only when the test asks (the schedule's first look, at start, finds nothing ended).
    writeFileSync(configFile, "hub:\n  reports:\n    intervalMs: 3600000\n");
    running = await startEmbedded({
      configFile,
      dataDir,
      apiPort: 0,
      grpcPort: 0,
      collectors: ["replay"],
      replayFiles: [SCENARIO],
      logger: silentLogger(),
      reportsClock: () => clock ?? Date.now(),
    });
    const vigil = running;
    expect(vigil.reports).toBeDefined();
    const eventsDb = join(dataDir, "events.db");
    const alertsDb = join(dataDir, "alerts.db");
    await waitFor(
      () =>
        count(eventsDb, "SELECT COUNT(*) AS n FROM events") === SCENARIO_EVENTS &&
        count(alertsDb, "SELECT COUNT(*) AS n FROM alerts") === EXPECTED_ALERTS,
      30_000,
      `${SCENARIO_EVENTS} events and ${EXPECTED_ALERTS} alerts stored`,
      100,
    );
    const db = new DatabaseSync(eventsDb, { readOnly: true });
    const range = db.prepare("SELECT MIN(ts_ms) AS first, MAX(ts_ms) AS last FROM events").get() as {
      first: number;
      last: number;
    };
    const hosts = db.prepare("SELECT DISTINCT host_id AS id FROM events").all() as Array<{ id: string }>;
    const execs = db
      .prepare("SELECT command_line AS command FROM events WHERE action = 'exec'")
      .all() as Array<{ command: string }>;
    db.close();
    expect(hosts).toHaveLength(1);

    // Nothing has ended yet: no report.
    const reportsDir = join(dataDir, "reports");
    expect(readReports(join(reportsDir, "1-cell", "fleet"))).toEqual([]);

    // Past the last event's cell and the schedule's delay (2 minutes by default).
    clock = Math.floor(range.last / CELL_MS) * CELL_MS + CELL_MS + 3 * 60_000;
    const tick = await (vigil.reports as NonNullable<EmbeddedVigil["reports"]>).scheduler.tick();
    const firstCell = Math.floor(range.first / CELL_MS) * CELL_MS;
    const cells = (clock - 3 * 60_000 - firstCell) / CELL_MS;
    expect(tick.generated.filter((id) => id.startsWith("1/fleet/"))).toHaveLength(cells);

    const fleet = readReports(join(reportsDir, "1-cell", "fleet"));
    const host = readReports(join(reportsDir, "1-cell", `host-${hosts[0]?.id}`));
    expect(fleet).toHaveLength(cells);
    expect(host).toHaveLength(cells);
    const sum = (reports: Report[], of: (report: Report) => number) =>
      reports.reduce((total, report) => total + of(report), 0);
    for (const reports of [fleet, host]) {
      expect(sum(reports, (report) => report.events.total)).toBe(SCENARIO_EVENTS);
      expect(sum(reports, (report) => report.alerts.total)).toBe(EXPECTED_ALERTS);
      const commands = new Map<string, number>();
      for (const report of reports)
        for (const entry of report.commands.entries)
          commands.set(entry.key, (commands.get(entry.key) ?? 0) + entry.count);
      const expected = new Map<string, number>();
      for (const { command } of execs) expected.set(command, (expected.get(command) ?? 0) + 1);
      expect(commands).toEqual(expected);
    }
    expect(host.every((report) => report.scope === `host:${hosts[0]?.id}` && report.level === 1)).toBe(true);
    // Everything on the host ran for the first time.
    expect(sum(host, (report) => report.newExecutables.count)).toBeGreaterThan(0);

    // A second look finds nothing due: the stores have not changed.
    expect(await vigil.reports?.scheduler.tick()).toEqual({ generated: [], late: [] });
  }, 60_000);
});
