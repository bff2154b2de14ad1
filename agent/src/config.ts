import {
  consulConnectionShape,
  envBoolean,
  isLoopbackHost,
  type LoadConfigOptions,
  listOf,
  loadConfig,
  logLevelSchema,
  metricsEndpointSchema,
  rssLimitSchema,
  watchedPrefixesSchema,
} from "@vigil/common";
import { z } from "zod";
import {
  DEFAULT_CONTEXT_EXIT_GRACE_MS,
  DEFAULT_CONTEXT_HASH_MAX_BYTES,
  DEFAULT_CONTEXT_HASH_WAIT_MS,
  DEFAULT_CONTEXT_MAX_PROCESSES,
} from "./context/types";
import { DEFAULT_ALLOWED_TASKS, TASK_KINDS } from "./tasks/types";

export const COLLECTOR_NAMES = ["driver", "ftrace", "procfs", "replay", "driver-replay"] as const;
export type CollectorName = (typeof COLLECTOR_NAMES)[number];

export const DEFAULT_STATE_DIR = "/var/lib/vigil";
export const DEFAULT_SPOOL_MAX_BYTES = 256 * 1024 * 1024;
export const DEFAULT_SPOOL_SEGMENT_BYTES = 8 * 1024 * 1024;

/** Defaults of limits.*: below the unit's CPUQuota=50% and MemoryMax=512M (deploy/systemd). */
export const DEFAULT_CPU_LIMIT_PERCENT = 40;
export const DEFAULT_RSS_LIMIT_BYTES = 384 * 1024 * 1024;

export const DISCOVERY_MODES = ["static", "dns", "consul"] as const;
/** The Consul service name vigil-server registers as. */
export const DEFAULT_CONSUL_SERVICE = "vigil-server";

const serverAddressSchema = z
  .string()
  .regex(/^[^\s:]+:\d{1,5}$|^\[[0-9a-fA-F:]+\]:\d{1,5}$/, "must be host:port");

/** How the agent finds its servers (see README "Finding servers"). */
const discoverySchema = z
  .object({
    /** static: the `servers` list; dns: SRV or A/AAAA records; consul: healthy instances of a service. */
    mode: z.enum(DISCOVERY_MODES).default("static"),
    dns: z
      .object({
        /** SRV name (`_vigil._tcp.example.org`), or a host name whose A/AAAA records are servers on `port`. */
        name: z.string().min(1).optional(),
        /** Set: `name` is an A/AAAA name and every address is a server on this port. Unset: SRV. */
        port: z.coerce.number().int().min(1).max(65535).optional(),
        refreshMs: z.coerce.number().int().min(1000).default(30_000),
        /** Name servers to ask ("ip" or "ip:port"); default: the system's. */
        nameservers: listOf(z.string().min(1)).default([]),
      })
      .strict()
      .prefault({}),
    consul: z
      .object({
        ...consulConnectionShape,
        service: z
          .string()
          .regex(/^[A-Za-z0-9_.-]{1,128}$/)
          .default(DEFAULT_CONSUL_SERVICE),
        /** Only instances carrying every one of these tags. */
        tags: listOf(z.string().min(1)).default([]),
        /** How long Consul holds a blocking query when nothing changes (Consul caps it at 10 min). */
        waitMs: z.coerce.number().int().min(1000).max(600_000).default(60_000),
        /** Dialled while Consul has not answered, or reports no healthy instance. */
        fallbackServers: listOf(serverAddressSchema).default([]),
      })
      .strict()
      .prefault({}),
    /** A server whose stream failed is passed over for this long when others are left. */
    failedCooldownMs: z.coerce.number().int().min(0).default(30_000),
    /** When another server becomes this agent's preferred one, it moves after a random delay in [min, max]. */
    rebalanceMinMs: z.coerce.number().int().min(0).default(120_000),
    rebalanceMaxMs: z.coerce.number().int().min(0).default(600_000),
  })
  .strict()
  .prefault({});

export const agentConfigSchema = z
  .object({
    /** Stable id; by default generated once and kept in stateDir/agent-id. */
    agentId: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,64}$/)
      .optional(),
    stateDir: z.string().min(1).default(DEFAULT_STATE_DIR),
    /** Static server list, "host:port"; tried in order, rotated on failure. */
    servers: listOf(serverAddressSchema).pipe(z.array(z.string()).min(1)).default(["127.0.0.1:7443"]),
    discovery: discoverySchema,
    /**
     * One-time or fleet enrollment token (README "Security"): used on first
     * contact to obtain a per-agent credential, kept in stateDir/credential;
     * not needed once enrolled.
     */
    enrollmentToken: z.string().min(16).optional(),
    /** Legacy/dev: the server's shared grpc.agentToken, sent while the agent has no credential. */
    token: z.string().min(16).optional(),
    tls: z
      .object({
        caFile: z.string().min(1),
        certFile: z.string().optional(),
        keyFile: z.string().optional(),
        /** Expected server name when it differs from the host in `servers`. */
        serverName: z.string().optional(),
        // caFile: the only CA the server's certificate is checked against (not the system's).
        // certFile + keyFile: client certificate, for servers with grpc.tls.clientCaFile (mTLS).
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
        /** Events per second at most; 0: as fast as the pipeline takes them. */
        rate: z.coerce.number().min(0).max(10_000_000).default(0),
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
        /** spool.mode "memory" only: unacked batches kept; beyond it the oldest are dropped and counted. */
        maxPendingBatches: z.coerce.number().int().min(1).default(2000),
        maxInFlightBatches: z.coerce.number().int().min(1).max(1024).default(16),
        ackTimeoutMs: z.coerce.number().int().min(100).default(15_000),
        connectTimeoutMs: z.coerce.number().int().min(100).default(10_000),
        backoffInitialMs: z.coerce.number().int().min(10).default(250),
        backoffMaxMs: z.coerce.number().int().min(10).default(30_000),
      })
      .strict()
      .prefault({}),
    /** Where batches wait for the server's ack (README "Spool"). */
    spool: z
      .object({
        /** "disk" (default): survives agent, server and network failures; "memory": lost on restart. */
        mode: z.enum(["disk", "memory"]).default("disk"),
        /** Default: <stateDir>/spool; must be owned by the agent's user and writable by no one else. */
        dir: z.string().min(1).optional(),
        /** Bound on the segment files; beyond it low-priority events go first, then the oldest segment. */
        maxBytes: z.coerce
          .number()
          .int()
          .min(64 * 1024)
          .default(DEFAULT_SPOOL_MAX_BYTES),
        segmentBytes: z.coerce
          .number()
          .int()
          .min(4096)
          .max(256 * 1024 * 1024)
          .default(DEFAULT_SPOOL_SEGMENT_BYTES),
        /** "batch": fsync after every batch (coalesced, off the event loop); "interval": every fsyncIntervalMs; "never": the kernel's writeback. */
        fsync: z.enum(["batch", "interval", "never"]).default("batch"),
        fsyncIntervalMs: z.coerce.number().int().min(10).max(60_000).default(1000),
      })
      .strict()
      .prefault({}),
    /** The agent's self-restraint (README "Agent health"); the server may change cpuPercent and rssBytes live. */
    limits: z
      .object({
        /** CPU time of the agent, % of one core, averaged over windowMs; 0 = no limit. */
        cpuPercent: z.coerce.number().min(0).max(100_000).default(DEFAULT_CPU_LIMIT_PERCENT),
        /** Resident memory; 0 = no limit. Keep it under the unit's MemoryMax. */
        rssBytes: rssLimitSchema.default(DEFAULT_RSS_LIMIT_BYTES),
        sampleIntervalMs: z.coerce.number().int().min(10).max(60_000).default(1000),
        windowMs: z.coerce.number().int().min(10).max(600_000).default(5000),
        /** Low-priority events are shed from this fraction of a limit on… */
        shedAtFraction: z.coerce.number().gt(0).max(1).default(0.9),
        /** …until usage stayed below this fraction of every limit for restoreAfterMs. */
        restoreAtFraction: z.coerce.number().gt(0).max(1).default(0.7),
        restoreAfterMs: z.coerce.number().int().min(0).max(3_600_000).default(10_000),
      })
      .strict()
      .prefault({}),
    /** Restarts collectors that stall (README "Agent health"). */
    watchdog: z
      .object({
        intervalMs: z.coerce.number().int().min(10).max(600_000).default(2000),
        backoffInitialMs: z.coerce.number().int().min(1).default(1000),
        backoffMaxMs: z.coerce.number().int().min(1).default(60_000),
        /** Stalls in a row (no stableMs run between them) before a collector is given up. */
        maxRestarts: z.coerce.number().int().min(0).default(10),
        stableMs: z.coerce.number().int().min(0).default(60_000),
      })
      .strict()
      .prefault({}),
    /** The process cache that gives every event its context (README "Context on every event"). */
    context: z
      .object({
        /** Processes remembered (LRU); the least recently touched go first. */
        maxProcesses: z.coerce.number().int().min(64).max(4_194_304).default(DEFAULT_CONTEXT_MAX_PROCESSES),
        /** An exited process stays resolvable this long, so late events still get their ancestry. */
        exitGraceMs: z.coerce.number().int().min(0).max(3_600_000).default(DEFAULT_CONTEXT_EXIT_GRACE_MS),
        /** Executables larger than this are not hashed (counted hashSkippedTooLarge). */
        hashMaxBytes: z.coerce.number().int().min(0).default(DEFAULT_CONTEXT_HASH_MAX_BYTES),
        /** An exec of a file not hashed yet waits at most this long for its hash; 0: never waits. */
        hashWaitMs: z.coerce.number().int().min(0).max(5000).default(DEFAULT_CONTEXT_HASH_WAIT_MS),
      })
      .strict()
      .prefault({}),
    /** Server tasks this host allows (README "Tasks"). */
    tasks: z
      .object({
        /** kill-process is off unless the host's operator adds it here. */
        allow: listOf(z.enum(TASK_KINDS)).default([...DEFAULT_ALLOWED_TASKS]),
        maxProcesses: z.coerce.number().int().min(1).max(100_000).default(10_000),
        fileHashMaxBytes: z.coerce
          .number()
          .int()
          .min(1)
          .default(256 * 1024 * 1024),
        maxConcurrent: z.coerce.number().int().min(1).max(64).default(4),
        timeoutMs: z.coerce.number().int().min(100).max(600_000).default(60_000),
      })
      .strict()
      .prefault({}),
    labels: z.record(z.string(), z.string()).default({}),
    /** Fleet groups (e.g. "web", "pci"): agent config and tasks can target a group. */
    groups: listOf(
      z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, "a group is 1-64 of A-Z a-z 0-9 _ . -"),
    ).default([]),
    metrics: metricsEndpointSchema.optional(),
    logLevel: logLevelSchema,
  })
  .strict()
  .superRefine((config, context) => {
    const plaintext = (servers: string[], path: Array<string | number>) => {
      if (config.tls) return;
      servers.forEach((server, index) => {
        const host = server.slice(0, server.lastIndexOf(":"));
        if (!isLoopbackHost(host)) {
          context.addIssue({
            code: "custom",
            path: [...path, index],
            message: `${server} is not on loopback: set tls.caFile so events are not sent in clear text`,
          });
        }
      });
    };
    if (config.discovery.mode === "static") plaintext(config.servers, ["servers"]);
    plaintext(config.discovery.consul.fallbackServers, ["discovery", "consul", "fallbackServers"]);
    const { discovery } = config;
    if (discovery.mode === "dns" && !discovery.dns.name) {
      context.addIssue({
        code: "custom",
        path: ["discovery", "dns", "name"],
        message: "required when discovery.mode is dns (an SRV name, or a host name with discovery.dns.port)",
      });
    }
    if (config.tls && Boolean(config.tls.certFile) !== Boolean(config.tls.keyFile)) {
      context.addIssue({
        code: "custom",
        path: ["tls", config.tls.certFile ? "keyFile" : "certFile"],
        message: "tls.certFile and tls.keyFile go together (the client certificate and its key)",
      });
    }
    if (discovery.rebalanceMaxMs < discovery.rebalanceMinMs) {
      context.addIssue({
        code: "custom",
        path: ["discovery", "rebalanceMaxMs"],
        message: `must be at least discovery.rebalanceMinMs (${discovery.rebalanceMinMs})`,
      });
    }
    if (config.spool.maxBytes < 2 * config.spool.segmentBytes) {
      context.addIssue({
        code: "custom",
        path: ["spool", "maxBytes"],
        message: `must be at least twice spool.segmentBytes (${config.spool.segmentBytes})`,
      });
    }
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
