// Tiered reports on Elasticsearch. Against the loopback double (which does not
// aggregate): the aggregation requests the level-1 source sends, checked for
// shape against requests written out here (typed with the client's
// estypes), and how it reads canned answers (top lists cut, unknown hosts,
// first sightings, composite paging); the vigil-reports store round trip.
// Against a real cluster when ES_URL is set: the three-week fixture written
// by the real sinks and every report of every level matching the SQLite
// suite's hand-computed counts (reported as not run without ES_URL).

import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { Client, type estypes } from "@elastic/elasticsearch";
import { createMemoryBus, silentLogger } from "@vigil/common";
import {
  cellReport,
  ElasticsearchCellSource,
  ElasticsearchEventSink,
  ElasticsearchReportStore,
  ElasticsearchSink,
  type HostCell,
  openServerReports,
  periodOf,
  REPORT_LEVELS,
  ReportGenerator,
} from "@vigil/hub";
import { serverConfigSchema, startVigilServer } from "@vigil/server";
import { ElasticsearchDouble } from "../doubles/elasticsearch-double";
import { fixtureAlertRecord, fixtureDocument } from "../fixtures/report-events";
import { expectLevelMatches, MONTHS, reportExpectations } from "../fixtures/report-expectations";
import { apiCall } from "../harness/servers-on-nats";

const CELL = periodOf(1, Date.parse("2026-02-03T10:15:00Z"));
const FROM = String(CELL.startMs);
const TO = String(CELL.endMs);
const LIMITS = { topEntries: 2, newItems: 10 };

/** A host's cell with only exec counts: enough for the store and the API. */
function hostCell(hostId: string, events: number): HostCell {
  return {
    hostId,
    hostName: hostId.replace("h-", ""),
    events,
    byType: { entries: [{ key: "process/exec", count: events }], complete: true },
    commands: { entries: [], complete: true },
    users: { entries: [], complete: true },
    newExecutables: { count: 0, items: [] },
    newListeningPorts: { count: 0, items: [] },
    newDestinations: { count: 0, items: [] },
    alerts: [],
  };
}

const SHA_NEW = "a".repeat(64);
const SHA_OLD = "b".repeat(64);

type Body = Record<string, unknown> & { aggs?: Record<string, unknown>; query?: unknown };

function searches(double: ElasticsearchDouble, target: string): Body[] {
  return double.requests
    .filter((request) => request.path.startsWith(`/${target}/_search`))
    .map((request) => JSON.parse(request.body) as Body);
}

/** Canned aggregation answers, by the aggregation the request asks for. */
function cannedAnswer(target: string, request: Record<string, unknown>): unknown {
  const aggs = request.aggs as Record<string, unknown>;
  const name = Object.keys(aggs)[0];
  const filters = JSON.stringify(request.query ?? {});
  switch (name) {
    case "hosts":
      return {
        hosts: {
          after_key: { host: "h-web-1" },
          buckets: [
            {
              key: { host: "h-web-1" },
              doc_count: 7,
              host_name: { buckets: [{ key: "web-1", doc_count: 7 }] },
              by_type: {
                sum_other_doc_count: 0,
                buckets: [
                  { key: ["process", "exec"], key_as_string: "process|exec", doc_count: 5 },
                  { key: ["network", "listen"], key_as_string: "network|listen", doc_count: 2 },
                ],
              },
              commands: {
                doc_count: 5,
                top: {
                  sum_other_doc_count: 1,
                  buckets: [
                    { key: "/usr/bin/id", doc_count: 3 },
                    { key: "/usr/bin/ls", doc_count: 1 },
                  ],
                },
              },
              users: { sum_other_doc_count: 0, buckets: [{ key: "root", doc_count: 7 }] },
            },
          ],
        },
      };
    case "alerts":
      return {
        alerts: {
          buckets: [
            {
              key: { host: null, rule: "r-1", level: "high" },
              doc_count: 2,
              host_name: { buckets: [] },
              rule_name: { buckets: [{ key: "Rule one", doc_count: 2 }] },
            },
            {
              key: { host: "h-web-1", rule: "r-2", level: "not-a-level" },
              doc_count: 1,
              host_name: { buckets: [] },
              rule_name: { buckets: [] },
            },
          ],
        },
      };
    case "pairs": {
      const isExe = filters.includes("process.hash.sha256");
      if (!isExe) return { pairs: { buckets: [] } };
      if (filters.includes('"gte"')) {
        // In the cell: two executables.
        return {
          pairs: {
            buckets: [SHA_NEW, SHA_OLD].map((sha, index) => ({
              key: { host: "h-web-1", v0: sha },
              doc_count: 1,
              first: { value: CELL.startMs + (index + 1) * 60_000 },
              detail: {
                hits: { hits: [{ _source: { process: { executable: `/usr/bin/tool-${index}` } } }] },
              },
            })),
          },
        };
      }
      // Before the cell: only the old one.
      return { pairs: { buckets: [{ key: { host: "h-web-1", v0: SHA_OLD }, doc_count: 4 }] } };
    }
    case "first":
      return { first: { value: target === "vigil-alerts" ? CELL.startMs - 5000 : CELL.startMs } };
    default:
      return undefined;
  }
}

describe("reports - Elasticsearch level-1 source against the double", () => {
  let double: ElasticsearchDouble;
  let source: ElasticsearchCellSource;

  beforeAll(async () => {
    double = await ElasticsearchDouble.start();
    source = new ElasticsearchCellSource({ nodes: [double.url], requestTimeoutMs: 5000, limits: LIMITS });
  });

  afterAll(async () => {
    await source?.close();
    await double?.stop();
  });

  beforeEach(() => {
    double.requests.length = 0;
    double.aggregationAnswer = cannedAnswer;
  });

  test("requests - events by host with types, top commands and users; alerts by host, rule and level", async () => {
    await source.hostCells(CELL);
    const range = { range: { "@timestamp": { format: "epoch_millis", lt: TO, gte: FROM } } };
    const events: estypes.SearchRequest = {
      size: 0,
      track_total_hits: false,
      query: { bool: { filter: [range] } },
      aggs: {
        hosts: {
          composite: { size: 1000, sources: [{ host: { terms: { field: "host.id" } } }] },
          aggs: {
            host_name: { terms: { field: "host.name", size: 1 } },
            by_type: {
              multi_terms: {
                terms: [
                  { field: "event.category", missing: "-" },
                  { field: "event.action", missing: "-" },
                ],
                size: 2,
              },
            },
            commands: {
              filter: { term: { "event.action": "exec" } },
              aggs: { top: { terms: { field: "process.command_line", size: 2 } } },
            },
            users: { terms: { field: "user.name", size: 2 } },
          },
        },
      },
    };
    expect(searches(double, "vigil-events")[0]).toEqual(events);
    const alerts: estypes.SearchRequest = {
      size: 0,
      track_total_hits: false,
      query: { bool: { filter: [range] } },
      aggs: {
        alerts: {
          composite: {
            size: 1000,
            sources: [
              { host: { terms: { field: "host.id", missing_bucket: true } } },
              { rule: { terms: { field: "rule.id" } } },
              { level: { terms: { field: "vigil.alert.level" } } },
            ],
          },
          aggs: {
            host_name: { terms: { field: "host.name", size: 1 } },
            rule_name: { terms: { field: "rule.name", size: 1 } },
          },
        },
      },
    };
    expect(searches(double, "vigil-alerts")).toEqual([alerts]);
    // Read from the streams, never from a wildcard, without failing on a missing stream.
    expect(
      double.requests.filter((request) => request.path.includes("_search")).map((request) => request.path),
    ).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^\/vigil-events\/_search\?ignore_unavailable=true&allow_no_indices=true$/),
      ]),
    );
  });

  test("requests - first sightings: the cell's pairs with their first time, then those seen before, only for the cell's hosts and values", async () => {
    await source.hostCells(CELL);
    const exe = searches(double, "vigil-events").filter((body) =>
      JSON.stringify(body.query).includes("process.hash.sha256"),
    );
    const inCell: estypes.SearchRequest = {
      size: 0,
      track_total_hits: false,
      query: {
        bool: {
          filter: [
            { range: { "@timestamp": { format: "epoch_millis", lt: TO, gte: FROM } } },
            { exists: { field: "process.hash.sha256" } },
          ],
        },
      },
      aggs: {
        pairs: {
          composite: {
            size: 1000,
            sources: [
              { host: { terms: { field: "host.id" } } },
              { v0: { terms: { field: "process.hash.sha256" } } },
            ],
          },
          aggs: {
            first: { min: { field: "@timestamp" } },
            detail: {
              top_hits: {
                size: 1,
                sort: [{ "@timestamp": { order: "asc" } }],
                _source: ["process.executable"],
              },
            },
          },
        },
      },
    };
    const before: estypes.SearchRequest = {
      size: 0,
      track_total_hits: false,
      query: {
        bool: {
          filter: [
            { range: { "@timestamp": { format: "epoch_millis", lt: FROM } } },
            { exists: { field: "process.hash.sha256" } },
            { terms: { "host.id": ["h-web-1"] } },
            { terms: { "process.hash.sha256": [SHA_NEW, SHA_OLD] } },
          ],
        },
      },
      aggs: {
        pairs: {
          composite: {
            size: 1000,
            sources: [
              { host: { terms: { field: "host.id" } } },
              { v0: { terms: { field: "process.hash.sha256" } } },
            ],
          },
        },
      },
    };
    expect(exe).toEqual([inCell, before]);
    // Destinations: the port may be missing (a bucket of its own).
    const destination = searches(double, "vigil-events").find((body) =>
      JSON.stringify(body.query).includes('"network.direction":"egress"'),
    );
    expect((destination?.aggs?.pairs as { composite?: unknown } | undefined)?.composite).toEqual({
      size: 1000,
      sources: [
        { host: { terms: { field: "host.id" } } },
        { v0: { terms: { field: "destination.ip" } } },
        { v1: { terms: { field: "destination.port", missing_bucket: true } } },
      ],
    });
  });

  test("answers - types as category/action, a list cut when documents fell outside it, unknown hosts, only unseen pairs new", async () => {
    const cells = await source.hostCells(CELL);
    expect(cells.map((cell) => cell.hostId)).toEqual(["h-web-1", "unknown"]);
    const [web, unknown] = cells as [HostCell, HostCell];
    expect(web).toMatchObject({
      hostName: "web-1",
      events: 7,
      byType: {
        complete: true,
        entries: [
          { key: "process/exec", count: 5 },
          { key: "network/listen", count: 2 },
        ],
      },
      commands: {
        complete: false,
        entries: [
          { key: "/usr/bin/id", count: 3 },
          { key: "/usr/bin/ls", count: 1 },
        ],
      },
      users: { complete: true, entries: [{ key: "root", count: 7 }] },
      newExecutables: {
        count: 1,
        items: [
          {
            hostId: "h-web-1",
            sha256: SHA_NEW,
            executable: "/usr/bin/tool-0",
            firstSeen: new Date(CELL.startMs + 60_000).toISOString(),
          },
        ],
      },
      newListeningPorts: { count: 0, items: [] },
      // An alert with a level the report does not know is left out.
      alerts: [],
    });
    expect(unknown.alerts).toEqual([{ ruleId: "r-1", ruleName: "Rule one", level: "high", count: 2 }]);
  });

  test("answers - hosts page on with the composite after_key; fingerprint counts; the earliest of both streams", async () => {
    double.aggregationAnswer = (target, request) => {
      const aggs = request.aggs as Record<string, { composite?: { after?: unknown } }>;
      const composite = aggs.hosts?.composite;
      if (composite === undefined) return cannedAnswer(target, request);
      if (composite.after === undefined) {
        const buckets = Array.from({ length: 1000 }, (_, index) => ({
          key: { host: `h-${String(index).padStart(4, "0")}` },
          doc_count: 1,
        }));
        return { hosts: { after_key: { host: "h-0999" }, buckets } };
      }
      return {
        hosts: { after_key: { host: "h-1000" }, buckets: [{ key: { host: "h-1000" }, doc_count: 3 }] },
      };
    };
    const cells = await source.hostCells(CELL);
    expect(cells.filter((cell) => cell.hostId.startsWith("h-") && cell.events > 0)).toHaveLength(1001);
    const pages = searches(double, "vigil-events").filter((body) => body.aggs?.hosts !== undefined);
    expect(
      pages.map(
        (body) => (body.aggs?.hosts as { composite?: { after?: unknown } } | undefined)?.composite?.after,
      ),
    ).toEqual([undefined, { host: "h-0999" }]);

    expect(await source.fingerprint(CELL)).toEqual({ events: 0, alerts: 0 });
    const counts = double.requests.filter((request) => request.path.includes("/_count"));
    expect(counts.map((request) => [request.path.split("?")[0], JSON.parse(request.body)])).toEqual([
      [
        "/vigil-events/_count",
        { query: { range: { "@timestamp": { format: "epoch_millis", lt: TO, gte: FROM } } } },
      ],
      [
        "/vigil-alerts/_count",
        { query: { range: { "@timestamp": { format: "epoch_millis", lt: TO, gte: FROM } } } },
      ],
    ]);
    expect(await source.earliest()).toBe(CELL.startMs - 5000);
  });
});

describe("reports - the vigil-reports store against the double", () => {
  let double: ElasticsearchDouble;
  let store: ElasticsearchReportStore;

  beforeAll(async () => {
    double = await ElasticsearchDouble.start();
    store = new ElasticsearchReportStore({ nodes: [double.url], requestTimeoutMs: 5000 });
  });

  afterAll(async () => {
    await store?.close();
    await double?.stop();
  });

  test("its template first, reports keyed by id, listed newest first with whether an analysis is beside them", async () => {
    const generatedAt = new Date("2026-02-04T00:00:00Z");
    const later = periodOf(1, CELL.endMs);
    await store.put(cellReport(CELL, hostCell("h-web-1", 3), LIMITS, generatedAt));
    await store.put(cellReport(CELL, hostCell("h-db-1", 2), LIMITS, generatedAt));
    await store.put(cellReport(later, hostCell("h-web-1", 5), LIMITS, generatedAt));
    // Regenerated: replaced, not added.
    await store.put(cellReport(later, hostCell("h-web-1", 6), LIMITS, generatedAt));

    const template = double.requests.find((request) => request.path === "/_index_template/vigil-reports");
    expect(template?.method).toBe("PUT");
    expect(JSON.parse(template?.body ?? "{}")).toMatchObject({
      index_patterns: ["vigil-reports*"],
      template: { mappings: { dynamic: false, properties: { report: { type: "object", enabled: false } } } },
    });
    expect(double.requests.findIndex((request) => request.path.includes("_bulk"))).toBeGreaterThan(
      double.requests.indexOf(template as (typeof double.requests)[number]),
    );

    expect(await store.get(1, "host:h-web-1", later.startMs)).toMatchObject({ events: { total: 6 } });
    expect(await store.get(1, "host:h-web-1", later.endMs)).toBeUndefined();
    expect(await store.scopes(1, CELL.startMs, later.endMs)).toEqual(["host:h-db-1", "host:h-web-1"]);
    expect(await store.scopes(1, later.startMs, later.endMs)).toEqual(["host:h-web-1"]);

    await store.putAnalysis(1, "host:h-db-1", CELL.startMs, {
      subject: `1/host:h-db-1/${new Date(CELL.startMs).toISOString()}`,
      status: "missing",
      reason: "HTTP 429 after 4 attempts",
      model: "m",
      attempts: 4,
      requestBytes: 100,
      createdAt: generatedAt.toISOString(),
    });
    const listed = await store.list({ level: 1, limit: 10 });
    expect(listed.map((summary) => [summary.id, summary.events, summary.hasAnalysis])).toEqual([
      [`1/host:h-web-1/${new Date(later.startMs).toISOString()}`, 6, false],
      [`1/host:h-db-1/${new Date(CELL.startMs).toISOString()}`, 2, true],
      [`1/host:h-web-1/${new Date(CELL.startMs).toISOString()}`, 3, false],
    ]);
    expect(await store.list({ level: 1, scope: "host:h-db-1", limit: 10 })).toHaveLength(1);
    expect((await store.getAnalysis(1, "host:h-db-1", CELL.startMs))?.reason).toBe(
      "HTTP 429 after 4 attempts",
    );
    await expect(store.get(1, "everyone", CELL.startMs)).rejects.toThrow(
      /is not "fleet" or "host:<host id>"/,
    );
  });
});

describe("reports - a distributed server serves the hubs' reports", () => {
  test("openServerReports reads vigil-reports on the alerts' cluster: GET /api/v1/reports lists what a hub stored, one report reads whole", async () => {
    const double = await ElasticsearchDouble.start();
    const bus = createMemoryBus();
    const hubStore = new ElasticsearchReportStore({ nodes: [double.url], requestTimeoutMs: 5000 });
    const reports = await openServerReports(
      { nodes: [double.url], requestTimeoutMs: 5000 },
      bus,
      "s1",
      silentLogger(),
    );
    const token = "reports-es-admin-token-0123456789abcdef";
    const server = await startVigilServer({
      config: serverConfigSchema.parse({
        serverId: "s1",
        grpc: { port: 0, agentToken: "reports-es-agent-token-0123456789abcdef" },
        api: { port: 0, token },
      }),
      bus,
      logger: silentLogger(),
      reports,
    });
    try {
      const generatedAt = new Date("2026-02-04T00:00:00Z");
      await hubStore.put(cellReport(CELL, hostCell("h-web-1", 4), LIMITS, generatedAt));
      const listed = await apiCall(server, "GET", "/api/v1/reports?level=1", { token });
      expect(listed.status).toBe(200);
      expect(listed.body.reports).toEqual([
        expect.objectContaining({ id: `1/host:h-web-1/${new Date(CELL.startMs).toISOString()}`, events: 4 }),
      ]);
      const one = await apiCall(
        server,
        "GET",
        `/api/v1/reports/1/host:h-web-1/${new Date(CELL.startMs).toISOString()}`,
        { token },
      );
      expect(one.status).toBe(200);
      expect(one.body.report).toMatchObject({ events: { total: 4 } });
    } finally {
      await server.close();
      await reports.stop();
      await hubStore.close();
      await bus.close();
      await double.stop();
    }
  });
});

const esUrl = process.env.ES_URL;
if (!esUrl) {
  console.warn(
    "reports-elasticsearch.test.ts: ES_URL is not set; the real-cluster reports suite is SKIPPED, not run.",
  );
}

(esUrl ? describe : describe.skip)("reports - every level on a real cluster (ES_URL)", () => {
  const { ES_API_KEY, ES_USERNAME, ES_PASSWORD, ES_CA_FILE } = process.env;
  const auth = ES_API_KEY
    ? { apiKey: ES_API_KEY }
    : ES_USERNAME
      ? { username: ES_USERNAME, password: ES_PASSWORD ?? "" }
      : undefined;
  const connection = { nodes: [esUrl as string], auth, caFile: ES_CA_FILE, requestTimeoutMs: 30_000 };
  const suffix = randomUUID().slice(0, 8);
  const eventsStream = `vigil-events-reports-${suffix}`;
  const alertsStream = `vigil-alerts-reports-${suffix}`;
  const reportsIndex = `vigil-reports-test-${suffix}`;
  const expectations = reportExpectations();
  let client: Client;
  let source: ElasticsearchCellSource;
  let store: ElasticsearchReportStore;

  beforeAll(async () => {
    client = new Client({
      node: esUrl as string,
      auth,
      ...(ES_CA_FILE ? { tls: { ca: readFileSync(ES_CA_FILE) } } : {}),
    });
    const events = new ElasticsearchEventSink({
      config: { ...connection, dataStream: eventsStream },
      logger: silentLogger(),
    });
    await events.start();
    const written = await events.write(expectations.events.map(fixtureDocument));
    expect(written.refused).toEqual([]);
    await events.close();
    const alerts = new ElasticsearchSink({
      config: { ...connection, dataStream: alertsStream },
      logger: silentLogger(),
    });
    await alerts.start();
    await alerts.write(expectations.alerts.map(fixtureAlertRecord));
    await alerts.close();
    await client.indices.refresh({ index: [eventsStream, alertsStream] });
    source = new ElasticsearchCellSource({
      ...connection,
      limits: { topEntries: 100, newItems: 500 },
      eventsDataStream: eventsStream,
      alertsDataStream: alertsStream,
    });
    store = new ElasticsearchReportStore({ ...connection, index: reportsIndex });
    const generator = new ReportGenerator({
      source,
      store,
      limits: { topEntries: 100, newItems: 500 },
      logger: silentLogger(),
      now: () => Date.parse("2026-03-10T00:00:00Z"),
    });
    for (const [start] of MONTHS) await generator.generate(periodOf(5, start), { fillMissing: true });
  }, 1_800_000);

  afterAll(async () => {
    await source?.close();
    await store?.close();
    await client?.indices.deleteDataStream({ name: [eventsStream, alertsStream] }).catch(() => undefined);
    await client?.indices.delete({ index: reportsIndex, ignore_unavailable: true }).catch(() => undefined);
    await client?.close();
  });

  test.each([...REPORT_LEVELS])("level %i - every period matches the hand-computed counts", (level) =>
    expectLevelMatches(store, level, expectations),
  );
});

describe("reports - Elasticsearch real cluster availability", () => {
  (esUrl ? test : test.skip)(
    `reports - real cluster suite ${esUrl ? "runs" : "NOT RUN: set ES_URL to run it"}`,
    () => {
      expect(esUrl).toBeDefined();
    },
  );
});
