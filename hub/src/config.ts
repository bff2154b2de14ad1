import { resolve } from "node:path";
import {
  ALERT_LEVELS,
  envBoolean,
  type LoadConfigOptions,
  listOf,
  loadConfig,
  logLevelSchema,
  metricsEndpointSchema,
  natsConfigSchema,
} from "@vigil/common";
import { z } from "zod";
import { DEFAULT_DEDUP_FIELDS, MAX_GROUPING_WINDOW_MS } from "./alerts/alert-dedup";
import { eventsWriterConfigSchema } from "./events/events-config";
import { reportsConfigSchema } from "./reports/reports-config";

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
        /** Data stream lifecycle retention ("90d"); unset keeps alerts until deleted. */
        retention: z.string().optional(),
        /** An existing ILM policy for the backing indices (instead of retention). */
        ilmPolicy: z.string().optional(),
        maxBatchItems: z.coerce.number().int().min(1).max(10_000).default(500),
        maxBatchBytes: z.coerce
          .number()
          .int()
          .min(1024)
          .default(5 * 1024 * 1024),
        maxConcurrentRequests: z.coerce.number().int().min(1).max(32).default(2),
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
    /** Hub-wide dedup for rules without vigil.suppress: same rule + same dedupFields within the window → one alert with a count. 0 = off. */
    alerts: z
      .object({
        dedupWindowMs: z.coerce.number().int().min(0).max(MAX_GROUPING_WINDOW_MS).default(0),
        dedupFields: listOf(z.string().regex(/^@?[a-z0-9_]+(\.[a-z0-9_]+)*$/)).default([
          ...DEFAULT_DEDUP_FIELDS,
        ]),
      })
      .strict()
      .prefault({}),
    /** Webhook notifiers: example consumers of vigil.alerts.> (Slack-style JSON). */
    notify: z
      .object({
        webhooks: z
          .array(
            z
              .object({
                name: z.string().regex(/^[A-Za-z0-9_-]{1,32}$/),
                /** Secret (chat webhooks carry their token in it): never logged. */
                url: z.url({ protocol: /^https?$/ }),
                minLevel: z.enum(ALERT_LEVELS).default("high"),
                timeoutMs: z.coerce.number().int().min(100).max(60_000).default(5000),
                maxAttempts: z.coerce.number().int().min(1).max(10).default(3),
                retryBaseDelayMs: z.coerce.number().int().min(10).default(500),
                maxAlertAgeMs: z.coerce.number().int().min(1000).default(3_600_000),
                caFile: z.string().optional(),
                linkTemplate: z.string().optional(),
              })
              .strict(),
          )
          .default([]),
      })
      .strict()
      .prefault({}),
    /** The events writer: keeps normalized events for investigation (events/events-config.ts). */
    events: eventsWriterConfigSchema.prefault({}),
    /** Tiered reports and their optional AI triage (reports/reports-config.ts). */
    reports: reportsConfigSchema.prefault({}),
    metrics: metricsEndpointSchema.optional(),
    logLevel: logLevelSchema,
  })
  .strict()
  .superRefine((config, context) => {
    const names = config.notify.webhooks.map((webhook) => webhook.name);
    names.forEach((name, index) => {
      if (names.indexOf(name) !== index) {
        context.addIssue({
          code: "custom",
          path: ["notify", "webhooks", index, "name"],
          message: `"${name}" is used twice: each webhook has its own durable consumer, named after it`,
        });
      }
    });
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
