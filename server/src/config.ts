import {
  agentPolicySchema,
  isLoopbackHost,
  type LoadConfigOptions,
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
        /** Shared enrollment token agents send as "authorization: Bearer <token>". */
        agentToken: z.string().min(16).optional(),
        maxBatchBytes: z.coerce.number().int().min(1024).default(DEFAULT_MAX_BATCH_BYTES),
        maxBatchEvents: z.coerce.number().int().min(1).default(DEFAULT_MAX_BATCH_EVENTS),
        heartbeatIntervalMs: z.coerce.number().int().min(1000).default(10_000),
        helloTimeoutMs: z.coerce.number().int().min(100).default(10_000),
      })
      .strict()
      .prefault({}),
    api: z
      .object({
        host: z.string().default("127.0.0.1"),
        port: z.coerce.number().int().min(0).max(65535).default(DEFAULT_API_PORT),
        /** Bearer token for the REST API; required when the API listens beyond loopback. */
        token: z.string().min(16).optional(),
      })
      .strict()
      .prefault({}),
    /** Distributed mode: where to publish events. Embedded mode passes an in-process bus instead. */
    nats: natsConfigSchema.optional(),
    /** SQLite alert store served by GET /api/v1/alerts (embedded mode and single-host installs). */
    alertStorePath: z.string().optional(),
    /**
     * What agents filter at the source, pushed to every agent after it connects
     * (ConfigUpdate). Unset lists leave the agent's own defaults in force.
     */
    agentPolicy: agentPolicySchema.prefault({}),
    logLevel: logLevelSchema,
  })
  .strict()
  .superRefine((config, context) => {
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
  });

export type ServerConfig = z.infer<typeof serverConfigSchema>;

export function loadServerConfig(options: Partial<LoadConfigOptions> = {}): ServerConfig {
  return loadConfig(serverConfigSchema, { envPrefix: "VIGIL_SERVER_", ...options });
}
