// Settings of the Elasticsearch alert sink, their defaults, and the client
// options built from them. Credentials are passed to the client only: nothing
// here logs them, and describeNodes() strips any user:password@ from URLs.

import { readFileSync } from "node:fs";
import type { ClientOptions } from "@elastic/elasticsearch";
import { ErrorCodes, VigilError } from "@vigil/common";
import { ALERTS_DATA_STREAM } from "./index-template";

export type ElasticsearchAuth = { apiKey: string } | { username: string; password: string };

export interface ElasticsearchSinkConfig {
  /** One or more node URLs, e.g. ["https://es-1:9200"]. */
  nodes: string[];
  auth?: ElasticsearchAuth;
  /** PEM file of the CA that signed the cluster's certificate. */
  caFile?: string;
  requestTimeoutMs: number;
  /** Retries of one write() after the first attempt, before it throws (the bus then redelivers). */
  maxRetries: number;
  retryBaseDelayMs: number;
  retryMaxDelayMs: number;
  /** Data stream name; must match the template's pattern "vigil-alerts*". */
  dataStream: string;
  /** Most alerts in one _bulk request; a bigger write is split. */
  maxBatchItems: number;
  /** Most NDJSON bytes in one _bulk request (a single bigger alert still goes alone). */
  maxBatchBytes: number;
  /** _bulk requests one write() has in flight at once. */
  maxConcurrentRequests: number;
  /** Data stream lifecycle: alerts older than this are deleted by ES, e.g. "90d" (unset: kept). */
  retention?: string;
  /** An ILM policy the operator created; when set it manages the backing indices instead of `retention`. */
  ilmPolicy?: string;
}

export const DEFAULT_ELASTICSEARCH_SINK_CONFIG: Readonly<ElasticsearchSinkConfig> = Object.freeze({
  nodes: ["http://127.0.0.1:9200"],
  requestTimeoutMs: 30_000,
  maxRetries: 5,
  retryBaseDelayMs: 200,
  retryMaxDelayMs: 10_000,
  dataStream: ALERTS_DATA_STREAM,
  maxBatchItems: 500,
  maxBatchBytes: 5 * 1024 * 1024,
  maxConcurrentRequests: 2,
});

/** Fresh defaults with `overrides` merged, checked; errors name the bad key. */
export function elasticsearchSinkConfig(
  overrides: Partial<ElasticsearchSinkConfig> = {},
  dataStreamPrefix = ALERTS_DATA_STREAM,
): ElasticsearchSinkConfig {
  // Keys present but undefined (optional settings not given) keep their defaults.
  const given = Object.fromEntries(Object.entries(overrides).filter(([, value]) => value !== undefined));
  const config: ElasticsearchSinkConfig = {
    ...DEFAULT_ELASTICSEARCH_SINK_CONFIG,
    nodes: [...DEFAULT_ELASTICSEARCH_SINK_CONFIG.nodes],
    dataStream: dataStreamPrefix,
    ...given,
  };
  if (config.nodes.length === 0) invalid("nodes", "at least one node URL is required");
  for (const node of config.nodes) {
    if (!URL.canParse(node) || !/^https?:$/.test(new URL(node).protocol)) {
      invalid("nodes", `"${describeNode(node)}" is not an http(s) URL`);
    }
  }
  for (const key of [
    "requestTimeoutMs",
    "retryBaseDelayMs",
    "retryMaxDelayMs",
    "maxBatchItems",
    "maxBatchBytes",
    "maxConcurrentRequests",
  ] as const) {
    if (!(Number.isFinite(config[key]) && config[key] > 0)) invalid(key, "must be a positive number");
  }
  if (!(Number.isInteger(config.maxRetries) && config.maxRetries >= 0)) {
    invalid("maxRetries", "must be a non-negative integer");
  }
  for (const key of ["maxBatchItems", "maxConcurrentRequests"] as const) {
    if (!Number.isInteger(config[key])) invalid(key, "must be an integer");
  }
  // ES duration units (d, h, m, s...): "90d", "36h".
  if (config.retention !== undefined && !/^[1-9][0-9]*(d|h|m|s|ms|micros|nanos)$/.test(config.retention)) {
    invalid("retention", `"${config.retention}" is not an Elasticsearch duration like "90d"`);
  }
  if (config.ilmPolicy !== undefined && !/^[A-Za-z0-9_.-]{1,255}$/.test(config.ilmPolicy)) {
    invalid("ilmPolicy", `"${config.ilmPolicy}" is not a policy name`);
  }
  if (!config.dataStream.startsWith(dataStreamPrefix)) {
    invalid("dataStream", `must start with "${dataStreamPrefix}" so the Vigil index template applies`);
  }
  if (config.auth && "apiKey" in config.auth && config.auth.apiKey === "") invalid("auth.apiKey", "is empty");
  if (config.auth && "username" in config.auth && config.auth.username === "")
    invalid("auth.username", "is empty");
  return config;
}

/** How to reach a cluster: what the hub's sink and the server's alert reader share. */
export interface ElasticsearchConnection {
  nodes: string[];
  auth?: { apiKey: string } | { username: string; password: string };
  /** PEM file of the CA that signed the cluster's certificate. */
  caFile?: string;
  requestTimeoutMs: number;
}

/**
 * Options for @elastic/elasticsearch's Client. `configKey` names the config
 * section in errors ("elasticsearch", "alerts.elasticsearch").
 */
export function elasticsearchConnectionOptions(
  connection: ElasticsearchConnection,
  client: { name: string; maxRetries: number; configKey: string },
): ClientOptions {
  const options: ClientOptions = {
    nodes: connection.nodes,
    requestTimeout: connection.requestTimeoutMs,
    maxRetries: client.maxRetries,
    name: client.name,
  };
  if (connection.auth) options.auth = { ...connection.auth };
  if (connection.caFile) {
    try {
      options.tls = { ca: readFileSync(connection.caFile) };
    } catch (error) {
      throw new VigilError(
        ErrorCodes.CONFIG_FILE,
        `${client.configKey}.caFile: cannot read ${connection.caFile}: ${(error as Error).message}`,
        { cause: error },
      );
    }
  }
  return options;
}

/** The sink's client: retries are the sink's own (bounded backoff, one place decides and logs), not the client's. */
export function elasticsearchClientOptions(config: ElasticsearchSinkConfig): ClientOptions {
  return elasticsearchConnectionOptions(config, {
    name: "vigil-hub",
    maxRetries: 0,
    configKey: "elasticsearch",
  });
}

/** Node URLs safe to log. */
export function describeNodes(config: ElasticsearchSinkConfig): string[] {
  return config.nodes.map(describeNode);
}

function describeNode(node: string): string {
  if (!URL.canParse(node)) return "<unparseable URL>";
  const url = new URL(node);
  url.username = "";
  url.password = "";
  return url.toString();
}

function invalid(key: string, problem: string): never {
  throw new VigilError(ErrorCodes.CONFIG_INVALID, `elasticsearch.${key}: ${problem}`);
}
