// Tiered reports over the embedded stores: a three-week event set written by
// the real events writer (SqliteEventStore) and alert store, reports generated
// up to the two months it touches, and every report of every level and scope
// compared with counts computed here from the fixture itself (periods written
// out by hand, not with the code under test).

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SqliteAlertStore, SqliteEventStore, silentLogger } from "@vigil/common";
import {
  DEFAULT_REPORT_LIMITS,
  FileReportStore,
  periodOf,
  type Report,
  ReportGenerator,
  type ReportLevel,
  SqliteCellSource,
} from "@vigil/hub";
import {
  FIXTURE_HOSTS,
  type FixtureEvent,
  fixtureAlertRecord,
  fixtureDocument,
} from "../fixtures/report-events";
import {
  END,
  expectLevelMatches,
  MINUTE,
  MONTHS,
  reportExpectations,
  utc,
} from "../fixtures/report-expectations";

describe("reports - SQLite store, every level", () => {
  const dir = mkdtempSync(join(tmpdir(), "reports-sqlite-"));
  const expectations = reportExpectations();
  const { events, alerts, expected } = expectations;
  let store: FileReportStore;
  let source: SqliteCellSource;

  beforeAll(async () => {
    const eventStore = new SqliteEventStore({ path: join(dir, "events.db") });
    const written = await eventStore.write(events.map(fixtureDocument));
    expect(written).toEqual({ stored: events.length, refused: [] });
    await eventStore.close();
    const alertStore = new SqliteAlertStore({ path: join(dir, "alerts.db") });
    await alertStore.write(alerts.map(fixtureAlertRecord));
    await alertStore.close();
    store = new FileReportStore(join(dir, "reports"));
    source = new SqliteCellSource({
      eventsPath: join(dir, "events.db"),
      alertsPath: join(dir, "alerts.db"),
      firstSeenPath: join(dir, "reports", "first-seen.db"),
      limits: DEFAULT_REPORT_LIMITS,
    });
    const generator = new ReportGenerator({
      source,
      store,
      limits: DEFAULT_REPORT_LIMITS,
      logger: silentLogger(),
      now: () => utc("2026-03-10T00:00:00Z"),
    });
    // Oldest first, as the scheduler goes: first sightings are swept in time order.
    for (const [start] of MONTHS) await generator.generate(periodOf(5, start), { fillMissing: true });
  }, 300_000);

  afterAll(async () => {
    await source.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test("the fixture spans both months, every kind of sighting and alert level it names", () => {
    expect(expected(MONTHS[0][0], END, undefined).total).toBe(events.length);
    expect(expected(MONTHS[0][0], MONTHS[0][1], undefined).total).toBeGreaterThan(0);
    expect(expected(MONTHS[1][0], MONTHS[1][1], undefined).total).toBeGreaterThan(0);
    const all = expected(MONTHS[0][0], END, undefined);
    expect(all.newExecutables.length).toBeGreaterThan(FIXTURE_HOSTS.length);
    expect(all.newListeningPorts.length).toBeGreaterThan(0);
    expect(all.newDestinations.length).toBeGreaterThan(0);
  });

  test.each([1, 2, 3, 4, 5] as ReportLevel[])(
    "level %i - every period's fleet and host reports match the hand-computed counts",
    (level) => expectLevelMatches(store, level, expectations),
  );

  test("a replaced executable (new hash, same path) is new on its host only, in the cell it first ran", async () => {
    const replaced = events
      .filter((event) => event.hostId === "h-dev-1" && event.executable === "/usr/bin/python3")
      .filter((event) => event.tsMs >= utc("2026-02-02T00:00:00Z"))
      .sort((a, b) => a.tsMs - b.tsMs)[0] as FixtureEvent;
    const cellStart = Math.floor(replaced.tsMs / (15 * MINUTE)) * 15 * MINUTE;
    const report = (await store.get(1, "host:h-dev-1", cellStart)) as Report;
    expect(report.newExecutables.items).toContainEqual({
      hostId: "h-dev-1",
      sha256: replaced.sha256,
      executable: "/usr/bin/python3",
      firstSeen: new Date(replaced.tsMs).toISOString(),
    });
  });

  test("listing - newest period first, filtered by level and scope, with what each holds", async () => {
    const listed = await store.list({ level: 4, scope: "fleet", limit: 3 });
    expect(listed.map((summary) => summary.period.start)).toEqual([
      "2026-02-23T00:00:00.000Z",
      "2026-02-16T00:00:00.000Z",
      "2026-02-09T00:00:00.000Z",
    ]);
    expect(listed[2]).toMatchObject({
      levelName: "weekly",
      scope: "fleet",
      events: expected(utc("2026-02-09T00:00:00Z"), utc("2026-02-16T00:00:00Z"), undefined).total,
      hasAnalysis: false,
    });
  });
});
