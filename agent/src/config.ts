import {
  envBoolean,
  isLoopbackHost,
  type LoadConfigOptions,
  listOf,
  loadConfig,
  logLevelSchema,
  metricsEndpointSchema,
  watchedPrefixesSchema,
} from "@vigil/common";
import { z } from "zod";

export const COLLECTOR_NAMES = ["driver", "ftrace", "procfs", "replay", "driver-replay"] as const;
export type CollectorName = (typeof COLLECTOR_NAMES)[number];

export const DEFAULT_STATE_DIR = "/var/lib/vigil";

export const agentConfigSchema = z
  .object({
    /** Stable id; by default generated once and kept in stateDir/agent-id. */
    agentId: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,64}$/)
      .optional(),
    stateDir: z.string().min(1).default(DEFAULT_STATE_DIR),
    /** Static server list, "host:port"; tried in order, rotated on failure. */
    servers: listOf(z.string().regex(/^[^\s:]+:\d{1,5}$|^\[[0-9a-fA-F:]+\]:\d{1,5}$/, "must be host:port"))
      .pipe(z.array(z.string()).min(1))
      .default(["127.0.0.1:7443"]),
    token: z.string().min(16).optional(),
    tls: z
      .object({
        caFile: z.string().min(1),
        certFile: z.string().optional(),
        keyFile: z.string().optional(),
        /** Expected server name when it differs from the host in `servers`. */
        serverName: z.string().optional(),
      })
      .strict()
      .optional(),
    collectors: listOf(z.enum(COLLECTOR_NAMES))
      .pipe(z.array(z.enum(COLLECTOR_NAMES)).min(1))
      .default(["driver", "ftrace", "procfs"]),
    /** When the best kernel source cannot run here, fall back (driver → ftrace → procfs) instead of failing. */
    collectorFallback: envBoolean.default(true),
    /** Path prefixes whose file writes, creations, renames, unlinks and chmods the driver reports
     *  (at most 64, each absolute and under 256 bytes); the server's agentPolicy may replace them. */
    driverWatchedPrefixes: watchedPrefixesSchema.optional(),
    procfsIntervalMs: z.coerce.number().int().min(100).default(5000),
    replay: z
      .object({
        files: listOf(z.string().min(1)).default([]),
        /** Shift recorded timestamps so the first event is "now". */
        rebaseTime: envBoolean.default(true),
      })
      .strict()
      .prefault({}),
    /** Raw /dev/vigil captures replayed through the driver collector's decoding (read-only, no device). */
    driverReplay: z
      .object({
        files: listOf(z.string().min(1)).default([]),
        /** Shift the captured timestamps so the first record is "now" (default: keep them). */
        rebaseTime: envBoolean.default(false),
      })
      .strict()
      .prefault({}),
    batch: z
      .object({
        maxEvents: z.coerce.number().int().min(1).max(100_000).default(1000),
        /** Upper bound on how long an event waits in the agent before it is sent. */
        flushIntervalMs: z.coerce.number().int().min(1).max(60_000).default(100),
      })
      .strict()
      .prefault({}),
    transport: z
      .object({
        /** Unacked batches kept for resend; beyond it the oldest are dropped and counted. */
        maxPendingBatches: z.coerce.number().int().min(1).default(2000),
        maxInFlightBatches: z.coerce.number().int().min(1).max(1024).default(16),
        ackTimeoutMs: z.coerce.number().int().min(100).default(15_000),
        connectTimeoutMs: z.coerce.number().int().min(100).default(10_000),
        backoffInitialMs: z.coerce.number().int().min(10).default(250),
        backoffMaxMs: z.coerce.number().int().min(10).default(30_000),
      })
      .strict()
      .prefault({}),
    labels: z.record(z.string(), z.string()).default({}),
    metrics: metricsEndpointSchema.optional(),
    logLevel: logLevelSchema,
  })
  .strict()
  .superRefine((config, context) => {
    if (config.tls) return;
    config.servers.forEach((server, index) => {
      const host = server.slice(0, server.lastIndexOf(":"));
      if (!isLoopbackHost(host)) {
        context.addIssue({
          code: "custom",
          path: ["servers", index],
          message: `${server} is not on loopback: set tls.caFile so events are not sent in clear text`,
        });
      }
    });
    if (config.collectors.includes("replay") && config.replay.files.length === 0) {
      context.addIssue({
        code: "custom",
        path: ["replay", "files"],
        message: "the replay collector needs at least one file",
      });
    }
    if (config.collectors.includes("driver-replay") && config.driverReplay.files.length === 0) {
      context.addIssue({
        code: "custom",
        path: ["driverReplay", "files"],
        message: "the driver-replay collector needs at least one capture file",
      });
    }
  });

export type AgentConfig = z.infer<typeof agentConfigSchema>;

export function loadAgentConfig(options: Partial<LoadConfigOptions> = {}): AgentConfig {
  return loadConfig(agentConfigSchema, { envPrefix: "VIGIL_AGENT_", ...options });
}
