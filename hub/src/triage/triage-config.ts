// AI triage settings (hub config reports.triage). Off unless enabled with an
// endpoint, a model and a key; the key comes from the environment
// (VIGIL_HUB_REPORTS__TRIAGE__API_KEY) or a file, and is never logged.

import { readFileSync } from "node:fs";
import { ALERT_LEVELS, ErrorCodes, envBoolean, listOf, VigilError } from "@vigil/common";
import { z } from "zod";

/**
 * Fields that may leave the installation. Reports carry these as lists and
 * counts (event.category/action as event-type counts, process.command_line as
 * the top commands, ...); an alert is sent as these fields of its document.
 * file.path is a name, never a file's contents (Vigil never reads those).
 */
export const TRIAGE_FIELDS = [
  "event.category",
  "event.action",
  "event.severity",
  "rule.id",
  "rule.name",
  "message",
  "host.name",
  "user.name",
  "process.executable",
  "process.command_line",
  "process.hash.sha256",
  "process.parent.executable",
  "process.parent.command_line",
  "destination.ip",
  "destination.port",
  "source.port",
  "file.path",
] as const;
export type TriageField = (typeof TRIAGE_FIELDS)[number];

/** What leaves by default: commands and metadata; no user names, host names, addresses or paths. */
export const DEFAULT_TRIAGE_FIELDS: TriageField[] = [
  "event.category",
  "event.action",
  "event.severity",
  "rule.id",
  "rule.name",
  "process.executable",
  "process.command_line",
  "process.hash.sha256",
  "process.parent.executable",
  "process.parent.command_line",
  "destination.port",
  "source.port",
];

export const triageConfigSchema = z
  .object({
    enabled: envBoolean.default(false),
    /** OpenAI-compatible API root, e.g. https://api.openai.com/v1 or a local server's /v1. */
    baseUrl: z.url({ protocol: /^https?$/ }).optional(),
    model: z.string().min(1).max(200).optional(),
    /** Secret: prefer apiKeyFile or the environment; never logged. */
    apiKey: z.string().min(1).optional(),
    /** File holding the key (first line), e.g. a mounted Secret. */
    apiKeyFile: z.string().min(1).optional(),
    /** Report levels sent (1 cell ... 5 monthly). */
    reportLevels: listOf(z.coerce.number().int().min(1).max(5)).default([3, 4, 5]),
    /** Also send each alert at or above alertMinLevel, with its process context. */
    alerts: envBoolean.default(false),
    alertMinLevel: z.enum(ALERT_LEVELS).default("high"),
    /** Fields that may be sent (see PRIVACY.md); anything else never leaves. */
    fields: listOf(z.enum(TRIAGE_FIELDS)).default([...DEFAULT_TRIAGE_FIELDS]),
    /** Fields sent only as stable placeholders ("user-1"), so patterns stay visible without the values. */
    redact: listOf(z.enum(TRIAGE_FIELDS)).default([]),
    timeoutMs: z.coerce.number().int().min(100).max(600_000).default(60_000),
    maxAttempts: z.coerce.number().int().min(1).max(10).default(4),
    retryBaseDelayMs: z.coerce.number().int().min(0).max(600_000).default(2_000),
    /** Largest request body; a bigger payload has its lists cut until it fits. */
    maxRequestBytes: z.coerce
      .number()
      .int()
      .min(1024)
      .max(4 * 1024 * 1024)
      .default(64 * 1024),
  })
  .strict()
  .superRefine((config, context) => {
    if (!config.enabled) return;
    if (!config.baseUrl)
      context.addIssue({ code: "custom", path: ["baseUrl"], message: "required when enabled" });
    if (!config.model)
      context.addIssue({ code: "custom", path: ["model"], message: "required when enabled" });
    if (!config.apiKey && !config.apiKeyFile) {
      context.addIssue({
        code: "custom",
        path: ["apiKey"],
        message: "apiKey or apiKeyFile required when enabled",
      });
    }
  });

export type TriageConfig = z.infer<typeof triageConfigSchema>;

/** The key from apiKey or apiKeyFile (the error names the file, never the key). */
export function triageApiKey(config: TriageConfig, configKey = "reports.triage"): string {
  if (config.apiKey) return config.apiKey;
  try {
    const key =
      readFileSync(config.apiKeyFile as string, "utf8")
        .split("\n")[0]
        ?.trim() ?? "";
    if (key === "") throw new Error("the file is empty");
    return key;
  } catch (error) {
    throw new VigilError(
      ErrorCodes.CONFIG_FILE,
      `${configKey}.apiKeyFile: cannot read a key from ${config.apiKeyFile}: ${(error as Error).message}`,
      { cause: error },
    );
  }
}
