// Tiered reports over the embedded stores: a three-week event set written by
// the real events writer (SqliteEventStore) and alert store, reports generated
// up to the two months it touches, and every report of every level and scope
// compared with counts computed here from the fixture itself (periods written
// out by hand, not with the code under test).

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type AlertLevel, SqliteAlertStore, SqliteEventStore, silentLogger } from "@vigil/common";
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
  type FixtureAlert,
  type FixtureEvent,
  fixtureAlertRecord,
  fixtureAlerts,
  fixtureDocument,
  fixtureEvents,
} from "../fixtures/report-events";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const utc = (text: string) => Date.parse(text);

// Hand-computed: January 2026 holds the ISO weeks whose Thursday is in January
// (W01, Thursday Jan 1, to W05, Thursday Jan 29): Monday Dec 29 to Monday Feb 2.
// February: W06 (Thursday Feb 5) to W09 (Thursday Feb 26): Feb 2 to Mar 2.
const MONTHS: Array<[number, number, string]> = [
  [utc("2025-12-29T00:00:00Z"), utc("2026-02-02T00:00:00Z"), "2026-01"],
  [utc("2026-02-02T00:00:00Z"), utc("2026-03-02T00:00:00Z"), "2026-02"],
];
const FIRST_MONDAY = utc("2025-12-29T00:00:00Z");
const END = utc("2026-03-02T00:00:00Z");
const LEVEL_STEP: Record<1 | 2 | 3 | 4, number> = { 1: 15 * MINUTE, 2: 4 * HOUR, 3: DAY, 4: 7 * DAY };

/** Every period of a level between FIRST_MONDAY and END: [start, end). */
function periodsOf(level: ReportLevel): Array<[number, number]> {
  if (level === 5) return MONTHS.map(([start, end]) => [start, end]);
  const step = LEVEL_STEP[level];
  const periods: Array<[number, number]> = [];
  for (let start = FIRST_MONDAY; start < END; start += step) periods.push([start, start + step]);
  return periods;
}

interface Expected {
  hosts: number;
  total: number;
  byType: Record<string, number>;
  commands: Record<string, number>;
  users: Record<string, number>;
  newExecutables: string[];
  newListeningPorts: string[];
  newDestinations: string[];
  alertsByRule: Record<string, number>;
  bySeverity: Record<AlertLevel, number>;
}

function count(into: Record<string, number>, key: string): void {
  into[key] = (into[key] ?? 0) + 1;
}

/** First sighting per (host, thing), over the whole set. */
function firstSightings(events: FixtureEvent[], keyOf: (event: FixtureEvent) => string | undefined) {
  const first = new Map<string, number>();
  for (const event of events) {
    const key = keyOf(event);
    if (key === undefined) continue;
    const at = first.get(key);
    if (at === undefined || event.tsMs < at) first.set(key, event.tsMs);
  }
  return first;
}

describe("reports - SQLite store, every level", () => {
  const dir = mkdtempSync(join(tmpdir(), "reports-sqlite-"));
  const events = fixtureEvents();
  const alerts = fixtureAlerts();
  const exeKey = (event: FixtureEvent) => `${event.hostId}|${event.sha256}`;
  const portKey = (event: FixtureEvent) =>
    event.listenPort === undefined ? undefined : `${event.hostId}|${event.listenPort}`;
  const destinationKey = (event: FixtureEvent) =>
    event.destinationIp === undefined
      ? undefined
      : `${event.hostId}|${event.destinationIp}|${event.destinationPort}`;
  const firstExe = firstSightings(events, exeKey);
  const firstPort = firstSightings(events, portKey);
  const firstDestination = firstSightings(events, destinationKey);
  let store: FileReportStore;
  let source: SqliteCellSource;

  function expected(from: number, to: number, hostId: string | undefined): Expected {
    const inRange = <T extends { tsMs: number; hostId: string }>(item: T) =>
      item.tsMs >= from && item.tsMs < to && (hostId === undefined || item.hostId === hostId);
    const chosen = events.filter(inRange);
    const chosenAlerts = alerts.filter(inRange);
    const result: Expected = {
      hosts: new Set([...chosen, ...chosenAlerts].map((item) => item.hostId)).size,
      total: chosen.length,
      byType: {},
      commands: {},
      users: {},
      newExecutables: [],
      newListeningPorts: [],
      newDestinations: [],
      alertsByRule: {},
      bySeverity: { informational: 0, low: 0, medium: 0, high: 0, critical: 0 },
    };
    for (const event of chosen) {
      count(result.byType, `${event.category}/${event.action}`);
      if (event.action === "exec") count(result.commands, event.commandLine);
      count(result.users, event.user);
    }
    const isNew = (first: Map<string, number>) =>
      [...first]
        .filter(
          ([key, at]) => at >= from && at < to && (hostId === undefined || key.startsWith(`${hostId}|`)),
        )
        .map(([key]) => key)
        .sort();
    result.newExecutables = isNew(firstExe);
    result.newListeningPorts = isNew(firstPort);
    result.newDestinations = isNew(firstDestination);
    for (const alert of chosenAlerts as FixtureAlert[]) {
      count(result.alertsByRule, alert.ruleId);
      result.bySeverity[alert.level]++;
    }
    return result;
  }

  function observed(report: Report): Expected {
    const entries = (list: Report["commands"]) => {
      expect(list.complete).toBe(true);
      for (let i = 1; i < list.entries.length; i++) {
        expect((list.entries[i - 1] as { count: number }).count).toBeGreaterThanOrEqual(
          (list.entries[i] as { count: number }).count,
        );
      }
      return Object.fromEntries(list.entries.map((entry) => [entry.key, entry.count]));
    };
    expect(report.newExecutables.count).toBe(report.newExecutables.items.length);
    return {
      hosts: report.hosts,
      total: report.events.total,
      byType: entries(report.events.byType),
      commands: entries(report.commands),
      users: entries(report.users),
      newExecutables: report.newExecutables.items.map((item) => `${item.hostId}|${item.sha256}`).sort(),
      newListeningPorts: report.newListeningPorts.items.map((item) => `${item.hostId}|${item.port}`).sort(),
      newDestinations: report.newDestinations.items
        .map((item) => `${item.hostId}|${item.ip}|${item.port}`)
        .sort(),
      alertsByRule: Object.fromEntries(report.alerts.byRule.map((rule) => [rule.ruleId, rule.count])),
      bySeverity: report.alerts.bySeverity,
    };
  }

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
    async (level) => {
      let compared = 0;
      for (const [start, end] of periodsOf(level)) {
        const fleet = await store.get(level, "fleet", start);
        expect(fleet).toBeDefined();
        expect(fleet?.period).toMatchObject({
          start: new Date(start).toISOString(),
          end: new Date(end).toISOString(),
        });
        expect(observed(fleet as Report)).toEqual(expected(start, end, undefined));
        for (const host of FIXTURE_HOSTS) {
          const want = expected(start, end, host.id);
          const report = await store.get(level, `host:${host.id}`, start);
          if (want.hosts === 0) {
            expect(report).toBeUndefined();
            continue;
          }
          expect(report?.hostName).toBe(host.name);
          expect(observed(report as Report)).toEqual(want);
          compared++;
        }
        if (level >= 2) {
          const previousStart =
            level === 5 ? (start === MONTHS[1][0] ? MONTHS[0][0] : undefined) : start - (end - start);
          const previous =
            previousStart === undefined || previousStart < FIRST_MONDAY
              ? 0
              : expected(previousStart, start, undefined).total;
          expect(fleet?.trend?.events).toMatchObject({ current: fleet?.events.total, previous });
        } else {
          expect(fleet?.trend).toBeNull();
        }
      }
      expect(compared).toBeGreaterThan(0);
    },
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
