// Level-1 aggregates from Elasticsearch (distributed mode): one aggregation
// request per question over the data streams vigil-events and vigil-alerts,
// hosts paged with a composite aggregation, so only grouped buckets come back.
//
// "New" means no earlier event of that host held it: the (host, value) pairs
// of the cell with their first time in it, minus the pairs that occur before
// the cell (a second aggregation restricted to the cell's hosts and values).
// Unlike the SQLite source's first-seen table, this sees only what retention
// has kept: a pair last seen before the oldest retained event counts as new.

import { Client, type estypes } from "@elastic/elasticsearch";
import { ALERT_LEVELS, type AlertLevel, ErrorCodes, VigilError } from "@vigil/common";
import { EVENTS_DATA_STREAM } from "../events/events-index-template";
import { describeEsError } from "../sinks/describe-es-error";
import { type ElasticsearchConnection, elasticsearchConnectionOptions } from "../sinks/elasticsearch-config";
import { ALERTS_DATA_STREAM } from "../sinks/index-template";
import { type CellSource, type StoreFingerprint, UNKNOWN_HOST } from "./cell-source";
import type { HostCell } from "./merge-reports";
import type { Period } from "./periods";
import type { NewDestination, NewExecutable, NewListeningPort, ReportLimits, TopList } from "./types";

export interface ElasticsearchCellSourceConfig extends ElasticsearchConnection {
  limits: ReportLimits;
  eventsDataStream?: string;
  alertsDataStream?: string;
}

/** Buckets per composite page. */
export const COMPOSITE_PAGE = 1000;

type Sighting = "exe" | "listen" | "dest";

/** What a first sighting is: the fields that make it, and the events that can hold one. */
const SIGHTINGS: Record<Sighting, { fields: string[]; filter: estypes.QueryDslQueryContainer[] }> = {
  exe: { fields: ["process.hash.sha256"], filter: [{ exists: { field: "process.hash.sha256" } }] },
  listen: {
    fields: ["source.port"],
    filter: [{ term: { "event.action": "listen" } }, { exists: { field: "source.port" } }],
  },
  dest: {
    fields: ["destination.ip", "destination.port"],
    filter: [{ term: { "network.direction": "egress" } }, { exists: { field: "destination.ip" } }],
  },
};

type Aggregations = Record<string, estypes.AggregationsAggregate>;
type CompositeBucket = estypes.AggregationsCompositeBucket & Aggregations;
type TermsBucket = { key: string | number; doc_count: number };
interface TermsAggregate {
  buckets: TermsBucket[];
  sum_other_doc_count?: number;
}

function timeRange(fromMs: number | undefined, toMs: number): estypes.QueryDslQueryContainer {
  const range: estypes.QueryDslDateRangeQuery = { format: "epoch_millis", lt: String(toMs) };
  if (fromMs !== undefined) range.gte = String(fromMs);
  return { range: { "@timestamp": range } };
}

function composite(
  sources: Array<[name: string, field: string, missing?: boolean]>,
  after: Record<string, estypes.FieldValue> | undefined,
): estypes.AggregationsCompositeAggregation {
  return {
    size: COMPOSITE_PAGE,
    sources: sources.map(([name, field, missing]) => ({
      [name]: { terms: { field, ...(missing ? { missing_bucket: true } : {}) } },
    })),
    ...(after ? { after } : {}),
  };
}

/** Events per host in the cell with their type counts, top commands and users (one composite page). */
export function cellEventsRequest(
  cell: Period,
  limits: ReportLimits,
  after?: Record<string, estypes.FieldValue>,
): estypes.SearchRequest {
  const size = limits.topEntries;
  return {
    size: 0,
    track_total_hits: false,
    query: { bool: { filter: [timeRange(cell.startMs, cell.endMs)] } },
    aggs: {
      hosts: {
        composite: composite([["host", "host.id"]], after),
        aggs: {
          host_name: { terms: { field: "host.name", size: 1 } },
          by_type: {
            multi_terms: {
              terms: [
                { field: "event.category", missing: "-" },
                { field: "event.action", missing: "-" },
              ],
              size,
            },
          },
          commands: {
            filter: { term: { "event.action": "exec" } },
            aggs: { top: { terms: { field: "process.command_line", size } } },
          },
          users: { terms: { field: "user.name", size } },
        },
      },
    },
  };
}

/** Alerts in the cell by host (missing: "unknown"), rule and level (one composite page). */
export function cellAlertsRequest(
  cell: Period,
  after?: Record<string, estypes.FieldValue>,
): estypes.SearchRequest {
  return {
    size: 0,
    track_total_hits: false,
    query: { bool: { filter: [timeRange(cell.startMs, cell.endMs)] } },
    aggs: {
      alerts: {
        composite: composite(
          [
            ["host", "host.id", true],
            ["rule", "rule.id"],
            ["level", "vigil.alert.level"],
          ],
          after,
        ),
        aggs: {
          host_name: { terms: { field: "host.name", size: 1 } },
          rule_name: { terms: { field: "rule.name", size: 1 } },
        },
      },
    },
  };
}

/** The (host, value) pairs of a kind in the cell, each with its first time and that event's executable. */
export function sightingsInCellRequest(
  kind: Sighting,
  cell: Period,
  after?: Record<string, estypes.FieldValue>,
): estypes.SearchRequest {
  const { fields, filter } = SIGHTINGS[kind];
  return {
    size: 0,
    track_total_hits: false,
    query: { bool: { filter: [timeRange(cell.startMs, cell.endMs), ...filter] } },
    aggs: {
      pairs: {
        composite: composite(
          [
            ["host", "host.id"],
            ...fields.map((field, index): [string, string, boolean] => [`v${index}`, field, index > 0]),
          ],
          after,
        ),
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
}

/** Which of the cell's pairs occur before it: restricted to the cell's hosts and first values. */
export function sightingsBeforeRequest(
  kind: Sighting,
  cell: Period,
  hosts: string[],
  values: Array<string | number>,
  after?: Record<string, estypes.FieldValue>,
): estypes.SearchRequest {
  const { fields, filter } = SIGHTINGS[kind];
  return {
    size: 0,
    track_total_hits: false,
    query: {
      bool: {
        filter: [
          timeRange(undefined, cell.startMs),
          ...filter,
          { terms: { "host.id": hosts } },
          { terms: { [fields[0] as string]: values } },
        ],
      },
    },
    aggs: {
      pairs: {
        composite: composite(
          [
            ["host", "host.id"],
            ...fields.map((field, index): [string, string, boolean] => [`v${index}`, field, index > 0]),
          ],
          after,
        ),
      },
    },
  };
}

/** The earliest @timestamp of a data stream. */
export function earliestRequest(): estypes.SearchRequest {
  return { size: 0, track_total_hits: false, aggs: { first: { min: { field: "@timestamp" } } } };
}

export class ElasticsearchCellSource implements CellSource {
  readonly name = "elasticsearch";
  private readonly client: Client;
  private readonly events: string;
  private readonly alerts: string;

  constructor(private readonly config: ElasticsearchCellSourceConfig) {
    this.events = config.eventsDataStream ?? EVENTS_DATA_STREAM;
    this.alerts = config.alertsDataStream ?? ALERTS_DATA_STREAM;
    this.client = new Client(
      elasticsearchConnectionOptions(config, {
        name: "vigil-reports",
        maxRetries: 2,
        configKey: "elasticsearch",
      }),
    );
  }

  async hostCells(cell: Period): Promise<HostCell[]> {
    const hosts = new Map<string, HostCell>();
    const host = (hostId: string): HostCell => {
      let entry = hosts.get(hostId);
      if (!entry) {
        entry = emptyCell(hostId);
        hosts.set(hostId, entry);
      }
      return entry;
    };
    for await (const bucket of this.pages(this.events, "hosts", (after) =>
      cellEventsRequest(cell, this.config.limits, after),
    )) {
      const entry = host(String(bucket.key.host));
      entry.hostName ??= firstKey(bucket.host_name);
      entry.events = bucket.doc_count;
      entry.byType = topList(bucket.by_type, (key) => (Array.isArray(key) ? key.join("/") : String(key)));
      entry.commands = topList((bucket.commands as unknown as Aggregations | undefined)?.top);
      entry.users = topList(bucket.users);
    }
    for await (const bucket of this.pages(this.alerts, "alerts", (after) => cellAlertsRequest(cell, after))) {
      const level = String(bucket.key.level);
      if (!(ALERT_LEVELS as readonly string[]).includes(level)) continue;
      const entry = host(bucket.key.host === null ? UNKNOWN_HOST : String(bucket.key.host));
      entry.hostName ??= firstKey(bucket.host_name);
      entry.alerts.push({
        ruleId: String(bucket.key.rule),
        ruleName: firstKey(bucket.rule_name) ?? String(bucket.key.rule),
        level: level as AlertLevel,
        count: bucket.doc_count,
      });
    }
    const limit = this.config.limits.newItems;
    for (const sighting of await this.newSightings("exe", cell)) {
      pushNew<NewExecutable>(host(sighting.hostId), "newExecutables", limit, {
        hostId: sighting.hostId,
        sha256: String(sighting.values[0]),
        executable: sighting.executable,
        firstSeen: new Date(sighting.firstMs).toISOString(),
      });
    }
    for (const sighting of await this.newSightings("listen", cell)) {
      pushNew<NewListeningPort>(host(sighting.hostId), "newListeningPorts", limit, {
        hostId: sighting.hostId,
        port: Number(sighting.values[0]),
        executable: sighting.executable,
        firstSeen: new Date(sighting.firstMs).toISOString(),
      });
    }
    for (const sighting of await this.newSightings("dest", cell)) {
      pushNew<NewDestination>(host(sighting.hostId), "newDestinations", limit, {
        hostId: sighting.hostId,
        ip: String(sighting.values[0]),
        port:
          sighting.values[1] === null || sighting.values[1] === undefined ? null : Number(sighting.values[1]),
        firstSeen: new Date(sighting.firstMs).toISOString(),
      });
    }
    return [...hosts.values()].sort((a, b) => (a.hostId < b.hostId ? -1 : a.hostId > b.hostId ? 1 : 0));
  }

  async fingerprint(cell: Period): Promise<StoreFingerprint> {
    const count = async (index: string) =>
      (
        await this.call(index, () =>
          this.client.count({
            index,
            ignore_unavailable: true,
            allow_no_indices: true,
            query: timeRange(cell.startMs, cell.endMs),
          }),
        )
      ).count;
    return { events: await count(this.events), alerts: await count(this.alerts) };
  }

  async earliest(): Promise<number | undefined> {
    const first = async (index: string) => {
      const response = await this.search(index, earliestRequest());
      const value = (response.aggregations?.first as estypes.AggregationsMinAggregate | undefined)?.value;
      return typeof value === "number" ? value : undefined;
    };
    const times = [await first(this.events), await first(this.alerts)].filter(
      (value): value is number => value !== undefined,
    );
    return times.length === 0 ? undefined : Math.min(...times);
  }

  async close(): Promise<void> {
    await this.client.close();
  }

  /** The new pairs of a kind in the cell, oldest first. */
  private async newSightings(
    kind: Sighting,
    cell: Period,
  ): Promise<
    Array<{
      hostId: string;
      values: Array<string | number | null>;
      firstMs: number;
      executable: string | null;
    }>
  > {
    const found = new Map<
      string,
      { hostId: string; values: Array<string | number | null>; firstMs: number; executable: string | null }
    >();
    const keyOf = (key: Record<string, estypes.FieldValue>) => JSON.stringify(Object.values(key));
    for await (const bucket of this.pages(this.events, "pairs", (after) =>
      sightingsInCellRequest(kind, cell, after),
    )) {
      const first = (bucket.first as estypes.AggregationsMinAggregate | undefined)?.value;
      const hit = (bucket.detail as estypes.AggregationsTopHitsAggregate | undefined)?.hits.hits[0];
      const executable = (hit?._source as { process?: { executable?: string } } | undefined)?.process
        ?.executable;
      found.set(keyOf(bucket.key), {
        hostId: String(bucket.key.host),
        values: Object.entries(bucket.key)
          .filter(([name]) => name !== "host")
          .map(([, value]) => value as string | number | null),
        firstMs: typeof first === "number" ? first : cell.startMs,
        executable: executable ?? null,
      });
    }
    if (found.size === 0) return [];
    const hosts = [...new Set([...found.values()].map((pair) => pair.hostId))];
    const values = [...new Set([...found.values()].map((pair) => pair.values[0] as string | number))];
    for await (const bucket of this.pages(this.events, "pairs", (after) =>
      sightingsBeforeRequest(kind, cell, hosts, values, after),
    )) {
      found.delete(keyOf(bucket.key));
    }
    return [...found.values()].sort(
      (a, b) => a.firstMs - b.firstMs || (a.hostId < b.hostId ? -1 : a.hostId > b.hostId ? 1 : 0),
    );
  }

  /** Every bucket of a composite aggregation, page after page. */
  private async *pages(
    index: string,
    name: string,
    request: (after: Record<string, estypes.FieldValue> | undefined) => estypes.SearchRequest,
  ): AsyncGenerator<CompositeBucket> {
    let after: Record<string, estypes.FieldValue> | undefined;
    for (;;) {
      const response = await this.search(index, request(after));
      const aggregate = response.aggregations?.[name] as estypes.AggregationsCompositeAggregate | undefined;
      const buckets = (aggregate?.buckets ?? []) as CompositeBucket[];
      for (const bucket of buckets) yield bucket;
      if (buckets.length < COMPOSITE_PAGE || aggregate?.after_key === undefined) return;
      after = aggregate.after_key;
    }
  }

  private search(index: string, request: estypes.SearchRequest): Promise<estypes.SearchResponse> {
    return this.call(index, () =>
      this.client.search({ index, ignore_unavailable: true, allow_no_indices: true, ...request }),
    );
  }

  private async call<T>(index: string, request: () => Promise<T>): Promise<T> {
    try {
      return await request();
    } catch (error) {
      throw new VigilError(
        ErrorCodes.EVENT_QUERY,
        `reports: Elasticsearch (${index}) did not answer the aggregation: ${describeEsError(error)}`,
        { cause: error },
      );
    }
  }
}

function firstKey(aggregate: estypes.AggregationsAggregate | undefined): string | null {
  const bucket = (aggregate as TermsAggregate | undefined)?.buckets?.[0];
  return bucket === undefined ? null : String(bucket.key);
}

/** A terms (or multi_terms) aggregate as a report's top list: cut when documents fell outside it. */
function topList(
  aggregate: estypes.AggregationsAggregate | undefined,
  keyOf: (key: unknown) => string = String,
): TopList {
  const terms = aggregate as TermsAggregate | undefined;
  const entries = (terms?.buckets ?? [])
    .map((bucket) => ({ key: keyOf(bucket.key), count: bucket.doc_count }))
    .sort((a, b) => b.count - a.count || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return { entries, complete: (terms?.sum_other_doc_count ?? 0) === 0 };
}

function emptyCell(hostId: string): HostCell {
  return {
    hostId,
    hostName: null,
    events: 0,
    byType: { entries: [], complete: true },
    commands: { entries: [], complete: true },
    users: { entries: [], complete: true },
    newExecutables: { count: 0, items: [] },
    newListeningPorts: { count: 0, items: [] },
    newDestinations: { count: 0, items: [] },
    alerts: [],
  };
}

function pushNew<T>(
  cell: HostCell,
  field: "newExecutables" | "newListeningPorts" | "newDestinations",
  limit: number,
  item: T,
): void {
  const list = cell[field] as { count: number; items: T[] };
  list.count++;
  if (list.items.length < limit) list.items.push(item);
}
