import type { NodeConnectionOptions } from "@nats-io/transport-node";
import { ErrorCodes, VigilError } from "../errors";
import type { Logger } from "../observability/logger";

// Connection settings for the NATS bus, and how they map onto the client's.

export interface NatsBusTlsOptions {
  /** CA bundle used to verify the server. */
  caFile?: string;
  /** Client certificate and key, for servers that verify clients. */
  certFile?: string;
  keyFile?: string;
}

export interface NatsBusOptions {
  /** "nats://host:port" URLs; the client picks among them and fails over. */
  servers: string[];
  /** Connection name shown by the server's monitoring (e.g. "vigil-hub@host"). */
  name: string;
  token?: string;
  user?: string;
  password?: string;
  tls?: NatsBusTlsOptions;
  logger: Logger;
  /** Keep retrying the first connect instead of failing (default false: fail fast at start). */
  waitOnFirstConnect?: boolean;
  /** Stream replicas in a cluster (default 1). */
  replicas?: number;
  /** How long a JetStream request (publish ack, stream/consumer admin) may take. */
  requestTimeoutMs?: number;
  /**
   * Instances expected to share one durable; the consumer's max_ack_pending is
   * maxInFlight times this, so the server never starves a member below its own limit.
   */
  maxMembersPerDurable?: number;
}

export const DEFAULT_NATS_RECONNECT_WAIT_MS = 1000;
export const DEFAULT_NATS_RECONNECT_JITTER_MS = 1000;
export const DEFAULT_NATS_REQUEST_TIMEOUT_MS = 5000;
export const DEFAULT_MAX_MEMBERS_PER_DURABLE = 64;

/** Checks combinations and names the bad key. */
export function toConnectionOptions(options: NatsBusOptions): NodeConnectionOptions {
  const bad = (key: string, why: string) =>
    new VigilError(ErrorCodes.CONFIG_INVALID, `bus.nats.${key}: ${why}`);
  if (options.servers.length === 0) throw bad("servers", "at least one server is required");
  if (options.token !== undefined && options.user !== undefined) {
    throw bad("token", "token and user/password are mutually exclusive");
  }
  if ((options.user === undefined) !== (options.password === undefined)) {
    throw bad(options.user === undefined ? "user" : "password", "user and password go together");
  }
  if (options.tls && (options.tls.certFile === undefined) !== (options.tls.keyFile === undefined)) {
    throw bad("tls", "certFile and keyFile go together");
  }
  const connection: NodeConnectionOptions = {
    servers: options.servers,
    name: options.name,
    // A bus that gives up is an outage that needs a restart: retry forever, jittered
    // so a fleet of servers and hubs does not reconnect in lockstep.
    reconnect: true,
    maxReconnectAttempts: -1,
    reconnectTimeWait: DEFAULT_NATS_RECONNECT_WAIT_MS,
    reconnectJitter: DEFAULT_NATS_RECONNECT_JITTER_MS,
    reconnectJitterTLS: DEFAULT_NATS_RECONNECT_JITTER_MS,
    waitOnFirstConnect: options.waitOnFirstConnect ?? false,
    // Otherwise nats.js builds two Error objects (stack traces) for every request —
    // each JetStream publish and ack — only to give rejections an async stack; with
    // thousands of small agent batches a second that was ~15% of a server's CPU
    // (a profile of bench/fleet-sim.mts). Errors keep their message and cause.
    noAsyncTraces: true,
  };
  if (options.token !== undefined) connection.token = options.token;
  if (options.user !== undefined) {
    connection.user = options.user;
    connection.pass = options.password;
  }
  if (options.tls) {
    const { caFile, certFile, keyFile } = options.tls;
    connection.tls = {
      ...(caFile ? { caFile } : {}),
      ...(certFile ? { certFile } : {}),
      ...(keyFile ? { keyFile } : {}),
    };
  }
  return connection;
}
