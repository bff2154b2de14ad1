import {
  agentPolicySchema,
  consulConnectionShape,
  envBoolean,
  isLoopbackHost,
  type LoadConfigOptions,
  listOf,
  loadConfig,
  logLevelSchema,
  natsConfigSchema,
} from "@vigil/common";
import { z } from "zod";

export const DEFAULT_GRPC_PORT = 7443;
export const DEFAULT_API_PORT = 8080;
/** One batch may not exceed this on the wire (agents are told in Welcome). */
export const DEFAULT_MAX_BATCH_BYTES = 4 * 1024 * 1024;
export const DEFAULT_MAX_BATCH_EVENTS = 5000;
/**
 * Server-wide bound on agent bytes (as received) read and not yet acked; beyond it,
 * streams stop being read. Decoded and normalized, a batch takes several times
 * its wire size, so this bounds the ingest path to a few hundred MB.
 */
export const DEFAULT_MAX_IN_FLIGHT_BYTES = 64 * 1024 * 1024;
/** Longest lifetime an enrollment token may be given (one year). */
export const MAX_TOKEN_TTL_SECONDS = 366 * 24 * 3600;
/** REST API requests per token (or client address) per rate-limit window. */
export const DEFAULT_API_RATE_LIMIT_MAX = 600;

const tlsSchema = z
  .object({
    certFile: z.string().min(1),
    keyFile: z.string().min(1),
    /** When set, agents must present a client certificate signed by this CA. */
    clientCaFile: z.string().min(1).optional(),
  })
  .strict();

export const serverConfigSchema = z
  .object({
    serverId: z
      .string()
      .regex(/^[A-Za-z0-9_.-]{1,64}$/)
      .default(() => `server-${process.pid}`),
    grpc: z
      .object({
        host: z.string().default("127.0.0.1"),
        port: z.coerce.number().int().min(0).max(65535).default(DEFAULT_GRPC_PORT),
        tls: tlsSchema.optional(),
        /**
         * Legacy/dev: one shared token agents send as "authorization: Bearer <token>",
         * accepted besides enrolled agents' credentials. Cannot be revoked per agent;
         * prefer enrollment.enabled.
         */
        agentToken: z.string().min(16).optional(),
        maxBatchBytes: z.coerce.number().int().min(1024).default(DEFAULT_MAX_BATCH_BYTES),
        maxBatchEvents: z.coerce.number().int().min(1).default(DEFAULT_MAX_BATCH_EVENTS),
        heartbeatIntervalMs: z.coerce.number().int().min(1000).default(10_000),
        helloTimeoutMs: z.coerce.number().int().min(100).default(10_000),
        /** Backpressure: bytes read from all agents and not yet acked, server-wide. */
        maxInFlightBytes: z.coerce
          .number()
          .int()
          .min(1024 * 1024)
          .default(DEFAULT_MAX_IN_FLIGHT_BYTES),
        /** Backpressure: messages read from one stream and not yet handled. */
        maxPendingMessagesPerStream: z.coerce.number().int().min(1).max(1024).default(32),
        /** Per-agent event rate (events/s; 0: unlimited): beyond it the server reads that agent more slowly, drops nothing. */
        agentEventsPerSecond: z.coerce.number().int().min(0).default(50_000),
        agentEventsBurst: z.coerce.number().int().min(1).default(100_000),
        /** Drain: agents reconnect elsewhere after a random delay below this. */
        drainReconnectWithinMs: z.coerce.number().int().min(0).max(600_000).default(5_000),
        /** Drain on shutdown (SIGTERM): how long agents get to finish their in-flight batches and leave. */
        drainGraceMs: z.coerce.number().int().min(0).max(600_000).default(10_000),
      })
      .strict()
      .prefault({}),
    api: z
      .object({
        host: z.string().default("127.0.0.1"),
        port: z.coerce.number().int().min(0).max(65535).default(DEFAULT_API_PORT),
        /** Bootstrap admin bearer token for the REST API; required when the API listens beyond loopback. Unset on loopback: the API is open. */
        token: z.string().min(16).optional(),
        /** HTTPS for the API (PEM certificate chain and key); required beyond loopback unless allowPlaintext. */
        tls: z
          .object({ certFile: z.string().min(1), keyFile: z.string().min(1) })
          .strict()
          .optional(),
        /** Plain HTTP beyond loopback anyway: only behind a TLS-terminating proxy or a loopback-only port mapping. */
        allowPlaintext: envBoolean.default(false),
        /** Serve /metrics without a token (a scraper that cannot send one); otherwise it needs a viewer token. */
        metricsPublic: envBoolean.default(false),
        /** Requests per token (per client address without one) per window; beyond it 429 with Retry-After. */
        rateLimit: z
          .object({
            max: z.coerce.number().int().min(1).default(DEFAULT_API_RATE_LIMIT_MAX),
            windowMs: z.coerce.number().int().min(1000).max(3_600_000).default(60_000),
          })
          .strict()
          .prefault({}),
        /** Largest request body accepted (413 beyond). */
        bodyLimitBytes: z.coerce
          .number()
          .int()
          .min(1024)
          .max(64 * 1024 * 1024)
          .default(1024 * 1024),
      })
      .strict()
      .prefault({}),
    /** Agent enrolment (README "Security"): enrollment tokens → per-agent credentials. */
    enrollment: z
      .object({
        /**
         * Agents enrol with enrollment tokens and connect with per-agent credentials,
         * kept (hashed) in the KV bucket vigil-enrollment shared by every server.
         * On: Connect requires a credential.
         */
        enabled: envBoolean.default(false),
        /** Obsolete (enrolments moved from a per-host SQLite file to the shared KV bucket); refused with a hint. */
        storePath: z.string().optional(),
        /** Per source address: Enroll calls and failed Connect authentications, beyond which RESOURCE_EXHAUSTED. */
        rateLimit: z
          .object({
            burst: z.coerce.number().int().min(1).max(100_000).default(20),
            perSecond: z.coerce.number().positive().max(10_000).default(1),
            maxSources: z.coerce.number().int().min(1).default(100_000),
          })
          .strict()
          .prefault({}),
        /** Lifetime of a one-time token when POST /api/v1/enrollment-tokens gives no ttlSeconds. */
        oneTimeTokenTtlSeconds: z.coerce
          .number()
          .int()
          .min(1)
          .max(MAX_TOKEN_TTL_SECONDS)
          .default(24 * 3600),
      })
      .strict()
      .prefault({}),
    /** Distributed mode: where to publish events. Embedded mode passes an in-process bus instead. */
    nats: natsConfigSchema.optional(),
    /** SQLite alert store served by GET /api/v1/alerts (embedded mode and single-host installs). */
    alertStorePath: z.string().optional(),
    /** Distributed mode: GET /api/v1/alerts reads the hubs' Elasticsearch data stream. */
    alerts: z
      .object({
        elasticsearch: z
          .object({
            nodes: listOf(z.url({ protocol: /^https?$/ })).refine(
              (nodes) => nodes.length > 0,
              "at least one node URL",
            ),
            auth: z
              .union([
                z.object({ apiKey: z.string().min(1) }).strict(),
                z.object({ username: z.string().min(1), password: z.string() }).strict(),
              ])
              .optional(),
            /** PEM file of the CA that signed the cluster's certificate. */
            caFile: z.string().min(1).optional(),
            requestTimeoutMs: z.coerce.number().int().min(100).default(10_000),
            dataStream: z
              .string()
              .regex(/^vigil-alerts[a-z0-9*_.-]*$/)
              .default("vigil-alerts"),
          })
          .strict()
          .optional(),
      })
      .strict()
      .prefault({}),
    /**
     * What agents filter at the source, pushed to every agent after it connects
     * (ConfigUpdate). Unset lists leave the agent's own defaults in force.
     */
    agentPolicy: agentPolicySchema.prefault({}),
    /** Self-registration in Consul, so agents in discovery.mode consul find this server. */
    consul: z
      .object({
        /** Register on start (a TTL check this server keeps passing while its bus is reachable), deregister on shutdown. */
        register: envBoolean.default(false),
        ...consulConnectionShape,
        service: z
          .string()
          .regex(/^[A-Za-z0-9_.-]{1,128}$/)
          .default("vigil-server"),
        /** Default: <service>-<serverId>. */
        serviceId: z
          .string()
          .regex(/^[A-Za-z0-9_.:-]{1,128}$/)
          .optional(),
        tags: listOf(z.string().min(1)).default([]),
        /** Address agents dial; default grpc.host, or the Consul node's address when grpc.host is a wildcard. */
        advertiseAddress: z.string().min(1).optional(),
        /** Port agents dial; default the gRPC port. */
        advertisePort: z.coerce.number().int().min(1).max(65535).optional(),
        /** The TTL check's TTL: the server updates it every third of this; silent that long, Consul marks it critical. */
        checkTtlMs: z.coerce.number().int().min(300).default(15_000),
        /** Consul removes an instance critical this long (Consul's minimum is 1 minute). */
        deregisterCriticalAfterMs: z.coerce.number().int().min(60_000).default(120_000),
      })
      .strict()
      .prefault({}),
    logLevel: logLevelSchema,
  })
  .strict()
  .superRefine((config, context) => {
    if (!isLoopbackHost(config.api.host) && !config.api.tls && !config.api.allowPlaintext) {
      context.addIssue({
        code: "custom",
        path: ["api", "tls"],
        message: `required when api.host (${config.api.host}) is not a loopback address (or api.allowPlaintext behind a TLS proxy): API tokens must not cross the network in clear text`,
      });
    }
    if (!isLoopbackHost(config.api.host) && !config.api.token) {
      context.addIssue({
        code: "custom",
        path: ["api", "token"],
        message: `required when api.host (${config.api.host}) is not a loopback address`,
      });
    }
    if (!isLoopbackHost(config.grpc.host) && !config.grpc.tls) {
      context.addIssue({
        code: "custom",
        path: ["grpc", "tls"],
        message: `required when grpc.host (${config.grpc.host}) is not a loopback address: agents' events must not cross the network in clear text`,
      });
    }
    if (config.enrollment.storePath !== undefined) {
      context.addIssue({
        code: "custom",
        path: ["enrollment", "storePath"],
        message:
          "obsolete: enrolments now live in the KV bucket vigil-enrollment shared by every server; remove storePath and set enrollment.enabled: true (agents enrolled in the old SQLite file enrol again with a token)",
      });
    }
    if (!isLoopbackHost(config.grpc.host) && !config.enrollment.enabled && !config.grpc.agentToken) {
      context.addIssue({
        code: "custom",
        path: ["enrollment", "enabled"],
        message: `required when grpc.host (${config.grpc.host}) is not a loopback address (or the legacy grpc.agentToken): agents must authenticate`,
      });
    }
  });

export type ServerConfig = z.infer<typeof serverConfigSchema>;

export function loadServerConfig(options: Partial<LoadConfigOptions> = {}): ServerConfig {
  return loadConfig(serverConfigSchema, { envPrefix: "VIGIL_SERVER_", ...options });
}
