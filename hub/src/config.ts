import { resolve } from "node:path";
import {
  envBoolean,
  type LoadConfigOptions,
  listOf,
  loadConfig,
  logLevelSchema,
  metricsEndpointSchema,
  natsConfigSchema,
} from "@vigil/common";
import { z } from "zod";

/** The default ruleset shipped with Vigil (rules/ at the repository root). */
export const DEFAULT_RULES_DIR = resolve(__dirname, "../../rules");

export const hubConfigSchema = z
  .object({
    hubId: z
      .string()
      .regex(/^[A-Za-z0-9_.-]{1,64}$/)
      .default(() => `hub-${process.pid}`),
    rulesDir: z.string().min(1).default(DEFAULT_RULES_DIR),
    /** Follow the ruleset the server's rules API keeps in the bus KV (rulesDir is used until it holds one). */
    watchRulesets: envBoolean.default(true),
    nats: natsConfigSchema.optional(),
    /** SQLite alert store (embedded mode, single-host installs). */
    alertStorePath: z.string().optional(),
    elasticsearch: z
      .object({
        nodes: listOf(z.url()).pipe(z.array(z.string()).min(1)),
        apiKey: z.string().optional(),
        username: z.string().optional(),
        password: z.string().optional(),
        caFile: z.string().optional(),
        requestTimeoutMs: z.coerce.number().int().min(100).default(30_000),
        maxRetries: z.coerce.number().int().min(0).max(20).default(5),
      })
      .strict()
      .optional(),
    consumer: z
      .object({
        maxInFlight: z.coerce.number().int().min(1).max(10_000).default(64),
        ackWaitMs: z.coerce.number().int().min(1000).default(30_000),
        maxDeliver: z.coerce.number().int().min(1).default(100),
        retryDelayMs: z.coerce.number().int().min(0).default(2000),
      })
      .strict()
      .prefault({}),
    metrics: metricsEndpointSchema.optional(),
    logLevel: logLevelSchema,
  })
  .strict()
  .superRefine((config, context) => {
    if (!config.alertStorePath && !config.elasticsearch) {
      context.addIssue({
        code: "custom",
        path: ["elasticsearch"],
        message: "set elasticsearch.nodes or alertStorePath: alerts need somewhere to be stored",
      });
    }
  });

export type HubConfig = z.infer<typeof hubConfigSchema>;

export function loadHubConfig(options: Partial<LoadConfigOptions> = {}): HubConfig {
  return loadConfig(hubConfigSchema, { envPrefix: "VIGIL_HUB_", ...options });
}
