// The alert search cases every AlertReader must pass (SQLite store, the
// Elasticsearch reader against the double, and against a real cluster), so
// the API answers the same whatever stores the alerts.

import type { Alert, AlertPage, AlertReader, AlertSearch } from "../../common/src/alerts/types";
import { makeAlert } from "./alert-fixture";

export interface AlertReaderTarget {
  /** A reader over exactly `alerts` (a fresh store each call). */
  open(alerts: Alert[]): Promise<AlertReader>;
  /** Releases what open() made. */
  close(): Promise<void>;
}

const SECOND_US = 1_000_000;

/** Ten alerts one second apart over three hosts, two rules and four levels (seed n → n seconds). */
export function searchFixture(): Alert[] {
  const levels = ["low", "medium", "high", "critical"] as const;
  return Array.from({ length: 10 }, (_, seed) =>
    makeAlert({
      seed,
      level: levels[seed % 4],
      ruleId: seed % 2 === 0 ? "vigil-reverse-shell" : "vigil-shadow-read",
      ruleName: seed % 2 === 0 ? "Reverse shell via bash /dev/tcp" : "Read of /etc/shadow by 100%_odd tool",
      hostName: ["web-01", "db-01", "build-7"][seed % 3],
    }),
  );
}

export function defineAlertReaderCases(name: string, target: () => AlertReaderTarget): void {
  const alerts = searchFixture();
  const idOf = (alert: Alert) => alert.id;
  const ids = (page: AlertPage) => page.alerts.map((document) => (document.event as { id: string }).id);
  const expected = (keep: (alert: Alert, seed: number) => boolean) =>
    alerts
      .filter((alert, seed) => keep(alert, seed))
      .sort((a, b) => b.timestampUs - a.timestampUs)
      .map(idOf);
  let current: AlertReaderTarget;
  let reader: AlertReader;

  beforeAll(async () => {
    current = target();
    reader = await current.open(alerts);
  });

  afterAll(async () => {
    await current.close();
  });

  const search = (query: Partial<AlertSearch>) => reader.search({ size: 100, ...query });

  test(`${name} - newest first with an exact total`, async () => {
    const page = await search({});
    expect(ids(page)).toEqual(expected(() => true));
    expect(page).toMatchObject({ total: 10, totalExact: true, nextCursor: null });
  });

  test(`${name} - time range: since inclusive, until exclusive`, async () => {
    const base = (alerts[0] as Alert).timestampUs;
    const page = await search({ sinceUs: base + 3 * SECOND_US, untilUs: base + 7 * SECOND_US });
    expect(ids(page)).toEqual(expected((_, seed) => seed >= 3 && seed < 7));
    expect(page.total).toBe(4);
  });

  test(`${name} - severity by minimum level and by list`, async () => {
    expect(ids(await search({ minLevel: "high" }))).toEqual(
      expected((alert) => alert.level === "high" || alert.level === "critical"),
    );
    expect(ids(await search({ levels: ["low", "critical"] }))).toEqual(
      expected((alert) => alert.level === "low" || alert.level === "critical"),
    );
  });

  test(`${name} - host and rule`, async () => {
    expect(ids(await search({ hostName: "db-01" }))).toEqual(
      expected(
        (alert) =>
          alert.document.host !== undefined && (alert.document.host as { name: string }).name === "db-01",
      ),
    );
    const both = await search({ hostName: "web-01", ruleId: "vigil-shadow-read" });
    expect(ids(both)).toEqual(expected((_, seed) => seed % 3 === 0 && seed % 2 === 1));
    expect(both.total).toBe(2);
    expect(await search({ ruleId: "no-such-rule" })).toMatchObject({
      alerts: [],
      total: 0,
      nextCursor: null,
    });
  });

  test(`${name} - free text, case-insensitive, over rule name, command line and host`, async () => {
    const odd = expected((_, seed) => seed % 2 === 1);
    expect(ids(await search({ text: "ETC/SHADOW" }))).toEqual(odd);
    // % and _ are literal characters, not patterns.
    expect(ids(await search({ text: "100%_odd" }))).toEqual(odd);
    expect(ids(await search({ text: "100%x" }))).toEqual([]);
    expect(ids(await search({ text: "203.0.113.7/4444" }))).toEqual(expected(() => true));
    expect(ids(await search({ text: "BUILD-7" }))).toEqual(expected((_, seed) => seed % 3 === 2));
    expect(ids(await search({ text: "shell", minLevel: "critical" }))).toEqual(
      expected((alert, seed) => seed % 2 === 0 && alert.level === "critical"),
    );
  });

  test(`${name} - cursor paging visits every match once, newest first, with a stable total`, async () => {
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await search({ size: 3, cursor, minLevel: "medium" });
      expect(page.total).toBe(expected((alert) => alert.level !== "low").length);
      expect(page.alerts.length).toBeLessThanOrEqual(3);
      seen.push(...ids(page));
      cursor = page.nextCursor ?? undefined;
      pages++;
    } while (cursor !== undefined && pages < 10);
    expect(seen).toEqual(expected((alert) => alert.level !== "low"));
    expect(pages).toBe(Math.ceil(seen.length / 3));
  });

  test(`${name} - a forged cursor is refused naming the cursor`, async () => {
    await expect(search({ cursor: "not-a-cursor" })).rejects.toThrow(/^cursor: /);
  });
}
