// Reads events back from the data stream vigil-events, for the server's event
// search, process tree and alert context in distributed mode. Same semantics as
// the SQLite store: filters in a bool filter (no scoring), keyset paging by
// (@timestamp, event.id) with search_after, and the same tree builder over
// bounded lookups. Beside the writer, not in common: the agent shares common
// and must not load the Elasticsearch client.

import { Client, type estypes } from "@elastic/elasticsearch";
import {
  buildProcessTree,
  type CheckedEventSearch,
  type ChildLink,
  checkEventSearch,
  decodeEventCursor,
  type EcsDocument,
  ErrorCodes,
  type EventPage,
  type EventQueries,
  type EventSearch,
  encodeEventCursor,
  type ProcessEventLookup,
  type ProcessTree,
  type ProcessTreeQuery,
  type TimeWindow,
  VigilError,
} from "@vigil/common";
import { describeEsError } from "../sinks/describe-es-error";
import { type ElasticsearchConnection, elasticsearchConnectionOptions } from "../sinks/elasticsearch-config";
import { EVENTS_DATA_STREAM } from "./events-index-template";

export interface ElasticsearchEventQueriesConfig extends ElasticsearchConnection {
  /** Data stream (or pattern) searched; default vigil-events. */
  dataStream?: string;
}

/** Free text is matched as a case-insensitive substring of these keyword fields. */
const TEXT_WILDCARD_FIELDS = ["process.command_line", "file.path", "process.executable"] as const;

export class ElasticsearchEventQueries implements EventQueries, ProcessEventLookup {
  private readonly client: Client;
  private readonly dataStream: string;

  constructor(config: ElasticsearchEventQueriesConfig) {
    this.dataStream = config.dataStream ?? EVENTS_DATA_STREAM;
    this.client = new Client(
      elasticsearchConnectionOptions(config, {
        name: "vigil-server-events",
        maxRetries: 1,
        configKey: "events.elasticsearch",
      }),
    );
  }

  async search(search: EventSearch): Promise<EventPage> {
    const checked = checkEventSearch(search);
    const after = checked.cursor === undefined ? undefined : decodeEventCursor(checked.cursor, checked.order);
    const response = await this.run({
      ...searchRequest(checked),
      ...(after ? { search_after: [after.tsMs, after.id] } : {}),
    });
    const hits = response.hits.hits;
    const page = hits.slice(0, checked.size);
    const lastSort = page[page.length - 1]?.sort;
    return {
      events: page.map((hit) => hit._source as EcsDocument),
      nextCursor:
        hits.length > checked.size && lastSort && typeof lastSort[0] === "number"
          ? encodeEventCursor({ order: checked.order, tsMs: lastSort[0], id: String(lastSort[1] ?? "") })
          : null,
    };
  }

  processTree(query: ProcessTreeQuery): Promise<ProcessTree> {
    return buildProcessTree(this, query);
  }

  async processEvents(
    hostId: string,
    entityId: string,
    window: TimeWindow,
    limit: number,
  ): Promise<EcsDocument[]> {
    const response = await this.run({
      size: limit,
      query: {
        bool: {
          filter: [hostFilter(hostId), { term: { "process.entity_id": entityId } }, ...windowFilter(window)],
        },
      },
      sort: ascending(),
    });
    return response.hits.hits.map((hit) => hit._source as EcsDocument);
  }

  async describingEvent(hostId: string, entityId: string): Promise<EcsDocument | undefined> {
    // The exec when there is one (it names the program), else the latest event.
    const filter = [hostFilter(hostId), { term: { "process.entity_id": entityId } }];
    const exec = await this.run({
      size: 1,
      query: { bool: { filter: [...filter, { term: { "event.action": "exec" } }] } },
      sort: descending(),
    });
    const found =
      exec.hits.hits[0] ??
      (await this.run({ size: 1, query: { bool: { filter } }, sort: descending() })).hits.hits[0];
    return found?._source as EcsDocument | undefined;
  }

  async children(
    hostId: string,
    parentIds: readonly string[],
    window: TimeWindow,
    limit: number,
  ): Promise<ChildLink[]> {
    // One hit per child process (collapse), oldest first.
    const response = await this.run({
      size: limit,
      _source: ["process.entity_id", "process.parent.entity_id"],
      query: {
        bool: {
          filter: [
            hostFilter(hostId),
            { terms: { "process.parent.entity_id": [...parentIds] } },
            ...windowFilter(window),
          ],
        },
      },
      collapse: { field: "process.entity_id" },
      sort: ascending(),
    });
    const links: ChildLink[] = [];
    const seen = new Set<string>();
    for (const hit of response.hits.hits) {
      const process = (hit._source as { process?: { entity_id?: string; parent?: { entity_id?: string } } })
        .process;
      const entityId = process?.entity_id;
      const parentEntityId = process?.parent?.entity_id;
      if (entityId === undefined || parentEntityId === undefined || seen.has(entityId)) continue;
      seen.add(entityId);
      links.push({ entityId, parentEntityId });
    }
    return links;
  }

  async entityOfPid(hostId: string, pid: number, atMs: number | undefined): Promise<string | undefined> {
    const at = atMs ?? Date.now();
    // Documents with a process.pid always carry its entity_id (the agent or server computes it).
    const filter: estypes.QueryDslQueryContainer[] = [hostFilter(hostId), { term: { "process.pid": pid } }];
    const entityOf = (response: estypes.SearchResponse) =>
      (response.hits.hits[0]?._source as { process?: { entity_id?: string } } | undefined)?.process
        ?.entity_id;
    const before = await this.run({
      size: 1,
      _source: ["process.entity_id"],
      query: {
        bool: {
          filter: [...filter, { range: { "@timestamp": { lte: String(at), format: "epoch_millis" } } }],
        },
      },
      sort: descending(),
    });
    if (entityOf(before) !== undefined) return entityOf(before);
    const after = await this.run({
      size: 1,
      _source: ["process.entity_id"],
      query: {
        bool: {
          filter: [...filter, { range: { "@timestamp": { gt: String(at), format: "epoch_millis" } } }],
        },
      },
      sort: ascending(),
    });
    return entityOf(after);
  }

  async close(): Promise<void> {
    await this.client.close();
  }

  private async run(request: Omit<estypes.SearchRequest, "index">): Promise<estypes.SearchResponse> {
    try {
      return await this.client.search({
        index: this.dataStream,
        ignore_unavailable: true,
        allow_no_indices: true,
        track_total_hits: false,
        ...request,
      });
    } catch (error) {
      throw new VigilError(
        ErrorCodes.EVENT_QUERY,
        `Elasticsearch (${this.dataStream}) did not answer the event query: ${describeEsError(error)}`,
        { cause: error },
      );
    }
  }
}

/** The search request of one page, without search_after (exported for the query-shape test). */
export function searchRequest(search: CheckedEventSearch): Omit<estypes.SearchRequest, "index"> {
  return {
    size: search.size + 1,
    query: { bool: { filter: eventFilters(search) } },
    sort: search.order === "asc" ? ascending() : descending(),
  };
}

export function eventFilters(search: EventSearch): estypes.QueryDslQueryContainer[] {
  const filters: estypes.QueryDslQueryContainer[] = [];
  const term = (field: string, value: string | number | undefined) => {
    if (value !== undefined) filters.push({ term: { [field]: value } });
  };
  term("host.id", search.hostId);
  term("host.name", search.hostName);
  filters.push(...windowFilter({ fromMs: search.fromMs, toMs: search.toMs }));
  if (search.categories !== undefined && search.categories.length > 0) {
    filters.push({ terms: { "event.category": search.categories } });
  }
  if (search.actions !== undefined && search.actions.length > 0) {
    filters.push({ terms: { "event.action": search.actions } });
  }
  term("process.executable", search.executable);
  term("process.entity_id", search.processEntityId);
  term("process.pid", search.pid);
  term("user.name", search.userName);
  term("destination.ip", search.destinationIp);
  term("destination.port", search.destinationPort);
  if (search.filePathPrefix !== undefined) {
    filters.push({ wildcard: { "file.path": { value: `${escapeWildcard(search.filePathPrefix)}*` } } });
  }
  if (search.text !== undefined) {
    const value = `*${escapeWildcard(search.text)}*`;
    filters.push({
      bool: {
        should: TEXT_WILDCARD_FIELDS.map((field) => ({
          wildcard: { [field]: { value, case_insensitive: true } },
        })),
        minimum_should_match: 1,
      },
    });
  }
  return filters;
}

function hostFilter(hostId: string): estypes.QueryDslQueryContainer {
  return { term: { "host.id": hostId } };
}

function windowFilter(window: TimeWindow): estypes.QueryDslQueryContainer[] {
  if (window.fromMs === undefined && window.toMs === undefined) return [];
  const range: estypes.QueryDslDateRangeQuery = { format: "epoch_millis" };
  // Bounds as epoch_millis text (the client types date bounds as date math strings).
  if (window.fromMs !== undefined) range.gte = String(window.fromMs);
  if (window.toMs !== undefined) range.lt = String(window.toMs);
  return [{ range: { "@timestamp": range } }];
}

function ascending(): estypes.SortCombinations[] {
  return [{ "@timestamp": { order: "asc" } }, { "event.id": { order: "asc" } }];
}

function descending(): estypes.SortCombinations[] {
  return [{ "@timestamp": { order: "desc" } }, { "event.id": { order: "desc" } }];
}

function escapeWildcard(text: string): string {
  return text.replace(/[\\*?]/g, "\\$&");
}
