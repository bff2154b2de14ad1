// A loopback Elasticsearch (9.x) that speaks enough of the REST protocol for the
// alert sink: composable index templates, data streams, _bulk (create, and
// partial-doc update with if_seq_no on a backing index) with per-item results
// shaped like the real ones, _search/_count to read back, and fault
// knobs (whole-request rejections, per-item failures, outages). It is not a
// search engine: queries support match_all, ids, term, terms, range, wildcard
// (case_insensitive), match_phrase (a case-insensitive substring here) and
// bool (filter/must/should/must_not, minimum_should_match); sort on several
// fields with search_after, from/size and track_total_hits.

import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { gunzipSync } from "node:zlib";
import { checkDocument, checkMappings, type EsError, type Mappings } from "./elasticsearch-mapping-check.ts";

export const DOUBLE_VERSION = "9.1.0";

/** How a chosen bulk item fails. */
export type ItemFault = "rejected" | "mapper_parsing" | "document_parsing" | "unavailable";

export interface ElasticsearchDoubleOptions {
  /** When set, every request must carry these credentials (else 401 like ES security). */
  auth?: { apiKey: string } | { username: string; password: string };
}

interface IndexTemplate {
  index_patterns: string[];
  data_stream?: Record<string, unknown>;
  priority?: number;
  template?: { mappings?: Mappings; settings?: unknown };
  [key: string]: unknown;
}

interface StoredDocument {
  id: string;
  source: Record<string, unknown>;
  seqNo: number;
}

interface Index {
  name: string;
  uuid: string;
  dataStream: string | null;
  mappings: Mappings | undefined;
  docs: Map<string, StoredDocument>;
}

interface DataStream {
  name: string;
  template: string;
  backingIndex: string;
}

interface HttpResult {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

export interface RecordedRequest {
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  /** The request body as sent (gzip undone); "" when there was none. */
  body: string;
}

/**
 * A canned `aggregations` answer for a search that asks for aggregations (the
 * double does not aggregate): given the target and the parsed request body,
 * the aggregations object to return, or undefined to refuse the request.
 */
export type AggregationAnswer = (target: string, request: Record<string, unknown>) => unknown;

const ERROR_TYPE_BY_STATUS: Record<number, string> = {
  429: "es_rejected_execution_exception",
  500: "internal_server_error",
  502: "bad_gateway",
  503: "unavailable_shards_exception",
  504: "timeout_exception",
};

export class ElasticsearchDouble {
  /** Requests seen, oldest first (method, path, headers) — for asserting what the client sent. */
  readonly requests: RecordedRequest[] = [];
  readonly counters = {
    bulkRequests: 0,
    bulkItems: 0,
    rejectedBulkRequests: 0,
    failedItems: 0,
    /** Most _bulk requests being answered at the same time (see delayBulkResponses). */
    maxConcurrentBulk: 0,
  };

  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private readonly templates = new Map<string, IndexTemplate>();
  private readonly indices = new Map<string, Index>();
  private readonly dataStreams = new Map<string, DataStream>();
  private readonly itemFaults = new Map<string, { fault: ItemFault; remaining: number }>();
  private rejectBulk: { remaining: number; status: number } = { remaining: 0, status: 429 };
  private hangUps = 0;
  private bulkDelayMs = 0;
  private bulkInFlight = 0;
  private seqNo = 0;
  private port = 0;
  private listening = false;
  private downTimer: NodeJS.Timeout | undefined;
  /** Answers searches with aggregations (tests of aggregation requests); unset, they are refused. */
  aggregationAnswer: AggregationAnswer | undefined;

  private readonly options: ElasticsearchDoubleOptions;

  // No parameter properties: benches load this file with Node's type stripping.
  private constructor(options: ElasticsearchDoubleOptions) {
    this.options = options;
    this.server = createServer((request, response) => {
      this.handle(request, response).catch((error: unknown) => {
        send(request, response, { status: 500, body: esError(500, "exception", String(error)) });
      });
    });
    this.server.keepAliveTimeout = 60_000;
    this.server.on("connection", (socket) => {
      this.sockets.add(socket);
      socket.on("close", () => this.sockets.delete(socket));
    });
  }

  static async start(options: ElasticsearchDoubleOptions = {}): Promise<ElasticsearchDouble> {
    const double = new ElasticsearchDouble(options);
    await double.listen(0);
    return double;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  // ---- fault knobs ---------------------------------------------------------

  /** The next `count` bulk requests fail as a whole (429 by default, like a full write queue). */
  rejectNextBulkRequests(count: number, status = 429): void {
    this.rejectBulk = { remaining: count, status };
  }

  /** Items with this _id fail `times` times (then succeed), with the error ES gives for `fault`. */
  failItem(id: string, fault: ItemFault, times = 1): void {
    this.itemFaults.set(id, { fault, remaining: times });
  }

  /** The next `count` requests get their connection destroyed before any answer (ECONNRESET). */
  hangUpNextRequests(count: number): void {
    this.hangUps = count;
  }

  /** Each _bulk is answered `ms` later, like a busy cluster; lets a test see how many a client keeps in flight. */
  delayBulkResponses(ms: number): void {
    this.bulkDelayMs = ms;
  }

  /** Stops listening and drops open connections: clients see ECONNREFUSED. */
  async goDown(): Promise<void> {
    if (this.downTimer) clearTimeout(this.downTimer);
    this.downTimer = undefined;
    if (!this.listening) return;
    this.listening = false;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    await closed;
  }

  /** Listens again on the same port. */
  async comeUp(): Promise<void> {
    if (this.downTimer) clearTimeout(this.downTimer);
    this.downTimer = undefined;
    if (!this.listening) await this.listen(this.port);
  }

  /** Down now, back up after `ms`. */
  async downFor(ms: number): Promise<void> {
    await this.goDown();
    this.downTimer = setTimeout(() => {
      this.downTimer = undefined;
      void this.listen(this.port);
    }, ms);
  }

  // ---- inspection ----------------------------------------------------------

  template(name: string): IndexTemplate | undefined {
    return this.templates.get(name);
  }

  /** Sources stored under an index, data stream or pattern, in write order. */
  documents(target: string): Array<Record<string, unknown>> {
    return this.resolve(target).flatMap((index) => [...index.docs.values()].map((doc) => doc.source));
  }

  isDataStream(name: string): boolean {
    return this.dataStreams.has(name);
  }

  async stop(): Promise<void> {
    await this.goDown();
  }

  // ---- HTTP ----------------------------------------------------------------

  private listen(port: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(port, "127.0.0.1", () => {
        this.server.off("error", reject);
        this.port = (this.server.address() as AddressInfo).port;
        this.listening = true;
        resolve();
      });
    });
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const raw = await readBody(request);
    const url = new URL(request.url ?? "/", "http://localhost");
    const method = request.method ?? "GET";
    const recorded: RecordedRequest = {
      method,
      path: url.pathname + url.search,
      headers: { ...request.headers },
      body: "",
    };
    this.requests.push(recorded);
    if (this.hangUps > 0) {
      this.hangUps--;
      request.socket.destroy();
      return;
    }
    const rejected = this.checkHeaders(request) ?? this.checkAuth(request);
    if (rejected) return send(request, response, rejected);
    const body =
      request.headers["content-encoding"] === "gzip"
        ? gunzipSync(raw).toString("utf8")
        : raw.toString("utf8");
    recorded.body = body;
    if (this.bulkDelayMs > 0 && url.pathname.endsWith("/_bulk")) {
      this.bulkInFlight++;
      this.counters.maxConcurrentBulk = Math.max(this.counters.maxConcurrentBulk, this.bulkInFlight);
      await new Promise((resolve) => setTimeout(resolve, this.bulkDelayMs));
      this.bulkInFlight--;
    }
    send(request, response, this.route(method, url, body));
  }

  private checkHeaders(request: IncomingMessage): HttpResult | null {
    const contentType = request.headers["content-type"];
    if (contentType !== undefined) {
      const media = (contentType.split(";")[0] as string).trim().toLowerCase();
      const allowed = [
        "application/json",
        "application/x-ndjson",
        "application/vnd.elasticsearch+json",
        "application/vnd.elasticsearch+x-ndjson",
      ];
      if (!allowed.includes(media)) {
        return {
          status: 406,
          body: { error: `Content-Type header [${contentType}] is not supported`, status: 406 },
        };
      }
    }
    for (const header of [request.headers["content-type"], request.headers.accept]) {
      const match = /compatible-with=(\d+)/.exec(header ?? "");
      if (match && match[1] !== "8" && match[1] !== "9") {
        return {
          status: 400,
          body: esError(
            400,
            "media_type_header_exception",
            `Invalid media-type value on headers [Accept, Content-Type]: compatible-with=${match[1]} is not supported`,
          ),
        };
      }
    }
    return null;
  }

  private checkAuth(request: IncomingMessage): HttpResult | null {
    const auth = this.options.auth;
    if (!auth) return null;
    const expected =
      "apiKey" in auth
        ? `ApiKey ${auth.apiKey}`
        : `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString("base64")}`;
    if (request.headers.authorization === expected) return null;
    return {
      status: 401,
      headers: { "WWW-Authenticate": 'Basic realm="security", charset="UTF-8", ApiKey' },
      body: esError(401, "security_exception", "missing authentication credentials for REST request [/]"),
    };
  }

  private route(method: string, url: URL, body: string): HttpResult {
    const parts = url.pathname
      .split("/")
      .filter((part) => part !== "")
      .map(decodeURIComponent);
    const [first, second, third] = parts;
    if (parts.length === 0 && (method === "GET" || method === "HEAD"))
      return { status: 200, body: rootInfo() };
    if (first === "_index_template" && second !== undefined && parts.length === 2) {
      if (method === "PUT" || method === "POST") return this.putTemplate(second, body);
      if (method === "GET") return this.getTemplate(second);
      if (method === "DELETE") return this.deleteTemplate(second);
    }
    if (first === "_data_stream" && second !== undefined && parts.length === 2) {
      if (method === "GET") return this.getDataStream(second);
      if (method === "DELETE") return this.deleteDataStream(second);
    }
    if (method === "POST" || method === "PUT") {
      if (first === "_bulk" && parts.length === 1) return this.bulk(undefined, url, body);
      if (second === "_bulk" && parts.length === 2) return this.bulk(first, url, body);
    }
    if (first !== undefined && parts.length === 2 && (method === "GET" || method === "POST")) {
      if (second === "_search") return this.search(first, url, body, false);
      if (second === "_count") return this.search(first, url, body, true);
      if (second === "_refresh") return this.refresh(first);
    }
    if (third === undefined && method === "GET" && (first === "_search" || first === "_count")) {
      return this.search("*", url, body, first === "_count");
    }
    return {
      status: 405,
      body: esError(
        405,
        "illegal_argument_exception",
        `Incorrect HTTP method for uri [${url.pathname}] and method [${method}]`,
      ),
    };
  }

  // ---- index templates -----------------------------------------------------

  private putTemplate(name: string, body: string): HttpResult {
    const parsed = parseJson(body);
    if (!isObject(parsed)) return parseFailure(body);
    const template = parsed as unknown as IndexTemplate;
    if (!Array.isArray(template.index_patterns) || template.index_patterns.length === 0) {
      return {
        status: 400,
        body: esError(
          400,
          "action_request_validation_exception",
          "Validation Failed: 1: index patterns are missing;",
        ),
      };
    }
    const mappingError = checkMappings(template.template?.mappings);
    if (mappingError) return { status: 400, body: esErrorFrom(400, mappingError) };
    this.templates.set(name, template);
    return { status: 200, body: { acknowledged: true } };
  }

  private getTemplate(name: string): HttpResult {
    const matches = [...this.templates].filter(([key]) => globMatch(name, key));
    if (matches.length === 0) {
      return {
        status: 404,
        body: esError(404, "resource_not_found_exception", `index template matching [${name}] not found`),
      };
    }
    return {
      status: 200,
      body: { index_templates: matches.map(([key, template]) => ({ name: key, index_template: template })) },
    };
  }

  private deleteTemplate(name: string): HttpResult {
    if (!this.templates.delete(name)) {
      return {
        status: 404,
        body: esError(404, "resource_not_found_exception", `index_template [${name}] missing`),
      };
    }
    return { status: 200, body: { acknowledged: true } };
  }

  /** The highest-priority template whose patterns match, as ES picks it. */
  private templateFor(index: string): [string, IndexTemplate] | undefined {
    let best: [string, IndexTemplate] | undefined;
    for (const entry of this.templates) {
      if (!entry[1].index_patterns.some((pattern) => globMatch(pattern, index))) continue;
      if (best === undefined || (entry[1].priority ?? 0) > (best[1].priority ?? 0)) best = entry;
    }
    return best;
  }

  // ---- data streams ----------------------------------------------------------

  private getDataStream(name: string): HttpResult {
    const matches = [...this.dataStreams.values()].filter((stream) => globMatch(name, stream.name));
    if (matches.length === 0 && !name.includes("*")) return indexNotFound(name);
    return {
      status: 200,
      body: {
        data_streams: matches.map((stream) => ({
          name: stream.name,
          timestamp_field: { name: "@timestamp" },
          indices: [
            { index_name: stream.backingIndex, index_uuid: this.indices.get(stream.backingIndex)?.uuid },
          ],
          generation: 1,
          status: "GREEN",
          template: stream.template,
          hidden: false,
          system: false,
          allow_custom_routing: false,
          replicated: false,
        })),
      },
    };
  }

  private deleteDataStream(name: string): HttpResult {
    const matches = [...this.dataStreams.values()].filter((stream) => globMatch(name, stream.name));
    if (matches.length === 0 && !name.includes("*")) return indexNotFound(name);
    for (const stream of matches) {
      this.dataStreams.delete(stream.name);
      this.indices.delete(stream.backingIndex);
    }
    return { status: 200, body: { acknowledged: true } };
  }

  // ---- bulk ------------------------------------------------------------------

  private bulk(defaultIndex: string | undefined, url: URL, body: string): HttpResult {
    this.counters.bulkRequests++;
    if (this.rejectBulk.remaining > 0) {
      this.rejectBulk.remaining--;
      this.counters.rejectedBulkRequests++;
      const status = this.rejectBulk.status;
      const type = ERROR_TYPE_BY_STATUS[status] ?? "exception";
      return {
        status,
        body: esError(
          status,
          type,
          `rejected execution of coordinating operation [shard_detail=..., coordinating_and_primary_bytes=...]`,
        ),
      };
    }
    if (body.length === 0) {
      return {
        status: 400,
        body: esError(400, "action_request_validation_exception", "Validation Failed: 1: no requests added;"),
      };
    }
    if (!body.endsWith("\n")) {
      return {
        status: 400,
        body: esError(
          400,
          "illegal_argument_exception",
          "The bulk request must be terminated by a newline [\\n]",
        ),
      };
    }
    const requireDataStream = url.searchParams.get("require_data_stream") === "true";
    const lines = body.split("\n");
    lines.pop();
    const items: unknown[] = [];
    const started = Date.now();
    for (let line = 0; line < lines.length; line++) {
      const action = parseJson(lines[line] as string);
      const op = isObject(action) ? Object.keys(action)[0] : undefined;
      if (!isObject(action) || op === undefined || Object.keys(action).length !== 1) {
        return {
          status: 400,
          body: esError(
            400,
            "illegal_argument_exception",
            `Malformed action/metadata line [${line + 1}], expected START_OBJECT or END_OBJECT`,
          ),
        };
      }
      const meta = action[op];
      if (!isObject(meta) || !["create", "index", "delete", "update"].includes(op)) {
        return {
          status: 400,
          body: esError(
            400,
            "illegal_argument_exception",
            `Action/metadata line [${line + 1}] contains an unknown parameter [${op}]`,
          ),
        };
      }
      let source: unknown;
      if (op !== "delete") {
        line++;
        if (line >= lines.length) {
          return {
            status: 400,
            body: esError(
              400,
              "action_request_validation_exception",
              "Validation Failed: 1: source is missing;",
            ),
          };
        }
        source = parseJson(lines[line] as string);
        if (source === undefined) return parseFailure(lines[line] as string);
      }
      const target = typeof meta._index === "string" ? meta._index : defaultIndex;
      if (target === undefined) {
        return {
          status: 400,
          body: esError(
            400,
            "action_request_validation_exception",
            "Validation Failed: 1: index is missing;",
          ),
        };
      }
      const id = typeof meta._id === "string" ? meta._id : randomUUID().replaceAll("-", "").slice(0, 20);
      this.counters.bulkItems++;
      items.push({ [op]: this.bulkItem(op, target, id, source, requireDataStream, meta) });
    }
    const errors = items.some(
      (item) => ((Object.values(item as object)[0] as { status: number }).status ?? 0) >= 300,
    );
    return { status: 200, body: { errors, took: Date.now() - started, items } };
  }

  private bulkItem(
    op: string,
    target: string,
    id: string,
    source: unknown,
    requireDataStream: boolean,
    meta: Record<string, unknown>,
  ): object {
    const failure = (status: number, error: EsError, index = target) => {
      this.counters.failedItems++;
      return { _index: index, _id: id, status, error };
    };
    const fault = this.itemFaults.get(id);
    if (fault && fault.remaining > 0) {
      fault.remaining--;
      if (fault.remaining === 0) this.itemFaults.delete(id);
      const [status, error] = injectedItemError(fault.fault, target, id);
      return failure(status, error);
    }
    if (op === "update") return this.updateItem(target, id, source, meta, failure);
    if (op !== "create" && op !== "index") {
      return failure(400, {
        type: "illegal_argument_exception",
        reason: `the double does not support [${op}]`,
      });
    }
    const resolved = this.writeTarget(target, requireDataStream);
    if ("error" in resolved) return failure(resolved.status, resolved.error);
    const index = resolved.index;
    if (index.dataStream !== null && op !== "create") {
      return failure(400, {
        type: "illegal_argument_exception",
        reason: `only write ops with an op_type of create are allowed in data streams`,
      });
    }
    if (index.dataStream !== null && (!isObject(source) || source["@timestamp"] === undefined)) {
      return failure(
        400,
        {
          type: "document_parsing_exception",
          reason: "[1:1] failed to parse: data stream timestamp field [@timestamp] is missing",
        },
        index.name,
      );
    }
    const existing = index.docs.get(id);
    if (existing && op === "create") {
      return failure(
        409,
        {
          type: "version_conflict_engine_exception",
          reason: `[${id}]: version conflict, document already exists (current version [1])`,
          index_uuid: index.uuid,
          shard: "0",
          index: index.name,
        } as EsError,
        index.name,
      );
    }
    const mappingError = checkDocument(source, index.mappings, id);
    if (mappingError) return failure(400, mappingError, index.name);
    const seqNo = this.seqNo++;
    index.docs.set(id, { id, source: source as Record<string, unknown>, seqNo });
    return {
      _index: index.name,
      _id: id,
      _version: existing ? 2 : 1,
      result: existing ? "updated" : "created",
      _shards: { total: 2, successful: 1, failed: 0 },
      _seq_no: seqNo,
      _primary_term: 1,
      status: existing ? 200 : 201,
    };
  }

  /**
   * A partial-document update ({"doc": {...}} merged into _source), as ES does
   * it: only on a concrete index (a data stream's backing index, never the
   * stream itself), with if_seq_no/if_primary_term as compare-and-set.
   */
  private updateItem(
    target: string,
    id: string,
    source: unknown,
    meta: Record<string, unknown>,
    failure: (status: number, error: EsError, index?: string) => object,
  ): object {
    if (this.dataStreams.has(target)) {
      return failure(400, {
        type: "illegal_argument_exception",
        reason: `only write ops with an op_type of create are allowed in data streams`,
      });
    }
    const index = this.indices.get(target);
    if (index === undefined) {
      return failure(404, { type: "index_not_found_exception", reason: `no such index [${target}]` });
    }
    const existing = index.docs.get(id);
    if (existing === undefined) {
      return failure(
        404,
        { type: "document_missing_exception", reason: `[${id}]: document missing` },
        index.name,
      );
    }
    const ifSeqNo = meta.if_seq_no;
    if (ifSeqNo !== undefined && (ifSeqNo !== existing.seqNo || (meta.if_primary_term ?? 1) !== 1)) {
      return failure(
        409,
        {
          type: "version_conflict_engine_exception",
          reason: `[${id}]: version conflict, required seqNo [${ifSeqNo}], primary term [${meta.if_primary_term}]. current document has seqNo [${existing.seqNo}] and primary term [1]`,
        },
        index.name,
      );
    }
    if (!isObject(source) || !isObject(source.doc)) {
      return failure(400, {
        type: "action_request_validation_exception",
        reason: "Validation Failed: 1: script or doc is missing;",
      });
    }
    const merged = deepMerge(existing.source, source.doc);
    const mappingError = checkDocument(merged, index.mappings, id);
    if (mappingError) return failure(400, mappingError, index.name);
    const seqNo = this.seqNo++;
    index.docs.set(id, { id, source: merged, seqNo });
    return {
      _index: index.name,
      _id: id,
      _version: 2,
      result: "updated",
      _shards: { total: 2, successful: 1, failed: 0 },
      _seq_no: seqNo,
      _primary_term: 1,
      status: 200,
    };
  }

  /** Finds or auto-creates where a write to `target` lands, as ES does. */
  private writeTarget(
    target: string,
    requireDataStream: boolean,
  ): { index: Index } | { status: number; error: EsError } {
    const stream = this.dataStreams.get(target);
    if (stream) return { index: this.indices.get(stream.backingIndex) as Index };
    const existing = this.indices.get(target);
    if (existing) {
      if (requireDataStream && existing.dataStream === null) {
        return {
          status: 400,
          error: {
            type: "illegal_argument_exception",
            reason: `only write ops to a data stream are allowed and [${target}] is not a data stream`,
          },
        };
      }
      return { index: existing };
    }
    const match = this.templateFor(target);
    if (match?.[1].data_stream !== undefined) {
      const [templateName, template] = match;
      const day = new Date().toISOString().slice(0, 10).replaceAll("-", ".");
      const backing = `.ds-${target}-${day}-000001`;
      const mappings = withTimestamp(template.template?.mappings);
      this.indices.set(backing, {
        name: backing,
        uuid: randomUUID(),
        dataStream: target,
        mappings,
        docs: new Map(),
      });
      this.dataStreams.set(target, { name: target, template: templateName, backingIndex: backing });
      return { index: this.indices.get(backing) as Index };
    }
    if (requireDataStream) {
      return {
        status: 404,
        error: {
          type: "index_not_found_exception",
          reason: `no such index [${target}] and [require_data_stream] request flag is [true] and [${target}] is not a data stream`,
        },
      };
    }
    // No data-stream template: ES auto-creates a plain index with dynamic mappings.
    const index: Index = {
      name: target,
      uuid: randomUUID(),
      dataStream: null,
      mappings: match?.[1].template?.mappings,
      docs: new Map(),
    };
    this.indices.set(target, index);
    return { index };
  }

  // ---- search ----------------------------------------------------------------

  private resolve(target: string): Index[] {
    const names = target.split(",");
    const result: Index[] = [];
    for (const name of names) {
      for (const stream of this.dataStreams.values()) {
        if (globMatch(name, stream.name)) result.push(this.indices.get(stream.backingIndex) as Index);
      }
      for (const index of this.indices.values()) {
        // Backing indices are reached through their stream, or by a dot pattern.
        if (index.dataStream !== null && !name.startsWith(".")) continue;
        if (globMatch(name, index.name) && !result.includes(index)) result.push(index);
      }
    }
    return result;
  }

  private search(target: string, url: URL, body: string, countOnly: boolean): HttpResult {
    const indices = this.resolve(target);
    const ignoreUnavailable = url.searchParams.get("ignore_unavailable") === "true";
    if (indices.length === 0 && !target.includes("*") && target !== "_all" && !ignoreUnavailable) {
      return indexNotFound(target);
    }
    const request = body.trim() === "" ? {} : parseJson(body);
    if (!isObject(request)) return parseFailure(body);
    if (request.aggs !== undefined || request.aggregations !== undefined) {
      // The double does not aggregate (nor evaluate the query): a canned answer, or a refusal.
      const aggregations = this.aggregationAnswer?.(target, request);
      if (aggregations === undefined) {
        return {
          status: 400,
          body: esError(
            400,
            "illegal_argument_exception",
            "the double does not aggregate: no canned answer for this request",
          ),
        };
      }
      const shards = { total: indices.length, successful: indices.length, skipped: 0, failed: 0 };
      return {
        status: 200,
        body: {
          took: 1,
          timed_out: false,
          _shards: shards,
          hits: { max_score: null, hits: [] },
          aggregations,
        },
      };
    }
    const predicate = compileQuery(request.query);
    if (typeof predicate === "string") {
      return { status: 400, body: esError(400, "parsing_exception", predicate) };
    }
    let hits = indices.flatMap((index) =>
      [...index.docs.values()].filter((doc) => predicate(doc)).map((doc) => ({ index, doc })),
    );
    const shards = { total: indices.length, successful: indices.length, skipped: 0, failed: 0 };
    if (countOnly) return { status: 200, body: { count: hits.length, _shards: shards } };
    const sorts = parseSorts(request.sort ?? url.searchParams.get("sort") ?? undefined);
    const sorted = sorts.length > 0;
    const keysOf = (doc: StoredDocument) => sorts.map((sort) => sortKey(valueAt(doc.source, sort.field)));
    const compare = (left: SortKey[], right: SortKey[]) => {
      for (let i = 0; i < sorts.length; i++) {
        const order = compareKeys(left[i] ?? null, right[i] ?? null);
        if (order !== 0) return sorts[i]?.order === "desc" ? -order : order;
      }
      return 0;
    };
    hits.sort((left, right) => left.doc.seqNo - right.doc.seqNo);
    const matched = hits.length;
    if (sorted) {
      hits = hits
        .map((hit) => ({ hit, key: keysOf(hit.doc) }))
        .sort((left, right) => compare(left.key, right.key))
        .map((entry) => entry.hit);
    }
    if (request.search_after !== undefined) {
      const after = Array.isArray(request.search_after) ? request.search_after : [];
      if (after.length !== sorts.length) {
        return {
          status: 400,
          body: esError(
            400,
            "illegal_argument_exception",
            `search_after has ${after.length} value(s) but sort has ${sorts.length}.`,
          ),
        };
      }
      const afterKeys = after.map(sortKey);
      hits = hits.filter((hit) => compare(keysOf(hit.doc), afterKeys) > 0);
    }
    const size = Number(request.size ?? url.searchParams.get("size") ?? 10);
    const from = Number(request.from ?? url.searchParams.get("from") ?? 0);
    const trackTotal = request.track_total_hits ?? 10_000;
    const bound = trackTotal === true ? Number.POSITIVE_INFINITY : Number(trackTotal);
    const total = matched > bound ? { value: bound, relation: "gte" } : { value: matched, relation: "eq" };
    return {
      status: 200,
      body: {
        took: 1,
        timed_out: false,
        _shards: shards,
        hits: {
          total,
          max_score: sorted ? null : 1.0,
          hits: hits.slice(from, from + size).map(({ index, doc }) => ({
            _index: index.name,
            _id: doc.id,
            _score: sorted ? null : 1.0,
            _source: doc.source,
            ...(request.seq_no_primary_term === true ? { _seq_no: doc.seqNo, _primary_term: 1 } : {}),
            ...(sorted ? { sort: keysOf(doc) } : {}),
          })),
        },
      },
    };
  }

  private refresh(target: string): HttpResult {
    const indices = this.resolve(target);
    if (indices.length === 0 && !target.includes("*")) return indexNotFound(target);
    return {
      status: 200,
      body: { _shards: { total: indices.length * 2, successful: indices.length, failed: 0 } },
    };
  }
}

// ---- helpers -------------------------------------------------------------------

/** ES's partial update: objects merge key by key, anything else replaces. */
function deepMerge(base: Record<string, unknown>, patch: Record<string, unknown>): Record<string, unknown> {
  const merged: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(patch)) {
    const current = merged[key];
    merged[key] = isObject(current) && isObject(value) ? deepMerge(current, value) : value;
  }
  return merged;
}

function send(request: IncomingMessage, response: ServerResponse, result: HttpResult): void {
  // ES answers a vendored Accept with the vendored media type, else plain JSON.
  const vendored = (request.headers.accept ?? "").includes("application/vnd.elasticsearch+json");
  const payload = request.method === "HEAD" ? "" : JSON.stringify(result.body);
  response.writeHead(result.status, {
    "X-Elastic-Product": "Elasticsearch",
    "Content-Type": vendored ? "application/vnd.elasticsearch+json;compatible-with=9" : "application/json",
    "Content-Length": Buffer.byteLength(payload),
    ...result.headers,
  });
  response.end(payload);
}

function readBody(request: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => resolve(Buffer.concat(chunks)));
    request.on("error", reject);
  });
}

function rootInfo(): object {
  return {
    name: "vigil-es-double",
    cluster_name: "vigil-double",
    cluster_uuid: "dOuBlEcLuStErUuId0000",
    version: {
      number: DOUBLE_VERSION,
      build_flavor: "default",
      build_type: "docker",
      build_hash: "0000000000000000000000000000000000000000",
      build_date: "2025-07-17T20:00:00.000000000Z",
      build_snapshot: false,
      lucene_version: "10.2.2",
      minimum_wire_compatibility_version: "8.19.0",
      minimum_index_compatibility_version: "8.0.0",
    },
    tagline: "You Know, for Search",
  };
}

function esError(status: number, type: string, reason: string): object {
  return { error: { root_cause: [{ type, reason }], type, reason }, status };
}

function esErrorFrom(status: number, error: EsError): object {
  return { error: { root_cause: [{ type: error.type, reason: error.reason }], ...error }, status };
}

function indexNotFound(name: string): HttpResult {
  const reason = `no such index [${name}]`;
  return {
    status: 404,
    body: {
      error: {
        root_cause: [
          {
            type: "index_not_found_exception",
            reason,
            "resource.type": "index_or_alias",
            "resource.id": name,
            index: name,
          },
        ],
        type: "index_not_found_exception",
        reason,
        "resource.type": "index_or_alias",
        "resource.id": name,
        index: name,
      },
      status: 404,
    },
  };
}

function parseFailure(text: string): HttpResult {
  return {
    status: 400,
    body: esError(400, "x_content_parse_exception", `[1:1] Unexpected character: ${text.slice(0, 20)}`),
  };
}

function injectedItemError(fault: ItemFault, index: string, id: string): [number, EsError] {
  switch (fault) {
    case "rejected":
      return [
        429,
        {
          type: "es_rejected_execution_exception",
          reason: `rejected execution of primary operation [shard_detail=[${index}][0][P], shard_operation_bytes=512] OR [node_replica_bytes=0]`,
        },
      ];
    case "unavailable":
      return [
        503,
        {
          type: "unavailable_shards_exception",
          reason: `[${index}][0] primary shard is not active Timeout: [1m]`,
        },
      ];
    case "mapper_parsing":
      return [
        400,
        {
          type: "mapper_parsing_exception",
          reason: `failed to parse field [process.pid] of type [long] in document with id '${id}'. Preview of field's value: 'abc'`,
          caused_by: { type: "number_format_exception", reason: 'For input string: "abc"' },
        },
      ];
    case "document_parsing":
      return [
        400,
        {
          type: "document_parsing_exception",
          reason: `[1:42] failed to parse field [destination.ip] of type [ip] in document with id '${id}'. Preview of field's value: 'nope'`,
          caused_by: { type: "illegal_argument_exception", reason: "'nope' is not an IP string literal." },
        },
      ];
    default: {
      const unknown: never = fault;
      throw new Error(`unknown fault ${String(unknown)}`);
    }
  }
}

function withTimestamp(mappings: Mappings | undefined): Mappings {
  // Data streams always map @timestamp as a date.
  const properties = { ...(mappings?.properties ?? {}) };
  properties["@timestamp"] ??= { type: "date" };
  return { ...mappings, properties };
}

type Predicate = (doc: StoredDocument) => boolean;
type SortKey = number | string | null;

function compileQuery(query: unknown): Predicate | string {
  if (query === undefined || (isObject(query) && "match_all" in query)) return () => true;
  if (!isObject(query)) return "query malformed, must start with start_object";
  if (isObject(query.ids) && Array.isArray(query.ids.values)) {
    const ids = new Set(query.ids.values as string[]);
    return (doc) => ids.has(doc.id);
  }
  if (isObject(query.term)) {
    const [field, spec] = Object.entries(query.term)[0] ?? [];
    if (field === undefined) return "[term] query malformed, no field";
    const wanted = isObject(spec) ? spec.value : spec;
    return (doc) => valuesAt(doc.source, field).some((value) => value === wanted);
  }
  if (isObject(query.terms)) {
    const [field, wanted] = Object.entries(query.terms)[0] ?? [];
    if (field === undefined || !Array.isArray(wanted)) return "[terms] query malformed, no field or values";
    return (doc) => valuesAt(doc.source, field).some((value) => wanted.includes(value));
  }
  if (isObject(query.range)) return compileRange(query.range);
  if (isObject(query.wildcard)) {
    const [field, spec] = Object.entries(query.wildcard)[0] ?? [];
    if (field === undefined) return "[wildcard] query malformed, no field";
    const value = String(isObject(spec) ? spec.value : spec);
    const regex = wildcardRegex(value, isObject(spec) && spec.case_insensitive === true);
    return (doc) => valuesAt(doc.source, field).some((item) => typeof item === "string" && regex.test(item));
  }
  if (isObject(query.match_phrase)) {
    const [field, spec] = Object.entries(query.match_phrase)[0] ?? [];
    if (field === undefined) return "[match_phrase] query malformed, no field";
    // A text field's analyzer lower-cases; a phrase is close enough to a substring here.
    const phrase = String(isObject(spec) ? spec.query : spec).toLowerCase();
    return (doc) =>
      valuesAt(doc.source, field).some(
        (item) => typeof item === "string" && item.toLowerCase().includes(phrase),
      );
  }
  if (isObject(query.bool)) return compileBool(query.bool);
  return `the double supports match_all, ids, term, terms, range, wildcard, match_phrase and bool queries, not [${Object.keys(query).join(",")}]`;
}

function compileBool(bool: Record<string, unknown>): Predicate | string {
  const clauses: Record<string, Predicate[]> = { must: [], filter: [], should: [], must_not: [] };
  for (const [occur, value] of Object.entries(bool)) {
    if (occur === "minimum_should_match") continue;
    const list = clauses[occur];
    if (list === undefined) return `[bool] query does not support [${occur}]`;
    for (const clause of Array.isArray(value) ? value : [value]) {
      const predicate = compileQuery(clause);
      if (typeof predicate === "string") return predicate;
      list.push(predicate);
    }
  }
  const { must = [], filter = [], should = [], must_not: mustNot = [] } = clauses;
  // As in ES: without must/filter at least one should clause must match; with them, none.
  const minimum = Number(bool.minimum_should_match ?? (must.length + filter.length > 0 ? 0 : 1));
  return (doc) =>
    must.every((predicate) => predicate(doc)) &&
    filter.every((predicate) => predicate(doc)) &&
    !mustNot.some((predicate) => predicate(doc)) &&
    (should.length === 0 || should.filter((predicate) => predicate(doc)).length >= minimum);
}

function compileRange(range: Record<string, unknown>): Predicate | string {
  const [field, spec] = Object.entries(range)[0] ?? [];
  if (field === undefined || !isObject(spec)) return "[range] query malformed, no field";
  const bound = (value: unknown): SortKey => {
    if (value === undefined) return null;
    return spec.format === "epoch_millis" ? Number(value) : sortKey(value);
  };
  const gte = bound(spec.gte);
  const gt = bound(spec.gt);
  const lte = bound(spec.lte);
  const lt = bound(spec.lt);
  return (doc) =>
    valuesAt(doc.source, field).some((raw) => {
      const value = sortKey(raw);
      if (value === null) return false;
      return (
        (gte === null || compareKeys(value, gte) >= 0) &&
        (gt === null || compareKeys(value, gt) > 0) &&
        (lte === null || compareKeys(value, lte) <= 0) &&
        (lt === null || compareKeys(value, lt) < 0)
      );
    });
}

/** ES wildcard syntax: * any run, ? one character, a backslash escapes the next character. */
function wildcardRegex(pattern: string, caseInsensitive: boolean): RegExp {
  let source = "";
  for (let i = 0; i < pattern.length; i++) {
    const char = pattern[i] as string;
    if (char === "\\" && i + 1 < pattern.length) source += escapeLiteral(pattern[++i] as string);
    else if (char === "*") source += ".*";
    else if (char === "?") source += ".";
    else source += escapeLiteral(char);
  }
  return new RegExp(`^${source}$`, caseInsensitive ? "is" : "s");
}

function escapeLiteral(char: string): string {
  return char.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
}

function parseSorts(sort: unknown): Array<{ field: string; order: "asc" | "desc" }> {
  const sorts: Array<{ field: string; order: "asc" | "desc" }> = [];
  const entries = Array.isArray(sort) ? sort : sort === undefined ? [] : [sort];
  for (const entry of entries) {
    if (typeof entry === "string") {
      for (const part of entry.split(",")) {
        const [field, order] = part.split(":");
        sorts.push({ field: field as string, order: order === "desc" ? "desc" : "asc" });
      }
    } else if (isObject(entry)) {
      for (const [field, spec] of Object.entries(entry)) {
        const order = isObject(spec) ? spec.order : spec;
        sorts.push({ field, order: order === "desc" ? "desc" : "asc" });
      }
    }
  }
  return sorts;
}

function sortKey(value: unknown): SortKey {
  if (typeof value === "number") return value;
  if (typeof value === "string") {
    // Dates sort as epoch milliseconds (what ES returns in `sort`); other strings as themselves.
    if (!/^\d{4}-\d{2}-\d{2}/.test(value)) return value;
    const time = Date.parse(value);
    return Number.isNaN(time) ? value : time;
  }
  return null;
}

function compareKeys(left: SortKey, right: SortKey): number {
  if (left === right) return 0;
  if (left === null) return 1;
  if (right === null) return -1;
  return left < right ? -1 : 1;
}

/** The values at a path, arrays flattened (ES indexes each array element). */
function valuesAt(source: Record<string, unknown>, path: string): unknown[] {
  const value = valueAt(source, path);
  return Array.isArray(value) ? value : value === undefined ? [] : [value];
}

function valueAt(source: Record<string, unknown>, path: string): unknown {
  if (path in source) return source[path];
  let current: unknown = source;
  for (const key of path.split(".")) {
    if (!isObject(current)) return undefined;
    current = current[key];
  }
  return current;
}

function globMatch(pattern: string, name: string): boolean {
  if (pattern === "_all" || pattern === "*") return !name.startsWith(".");
  const regex = new RegExp(`^${pattern.split("*").map(escapeRegex).join(".*")}$`);
  return regex.test(name);
}

function escapeRegex(text: string): string {
  return text.replace(/[.+?^${}()|[\]\\]/g, "\\$&");
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
