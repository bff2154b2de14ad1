// Settings of tiered reports (hub config key `reports`). Unset `enabled`
// means on in embedded mode (`vigil start`, files under <dataDir>/reports) and
// off for a distributed hub. Level 1 is aggregated from the events writer's
// store: its SQLite file (events.storePath) when set, else the hub's
// Elasticsearch cluster; reports go to `dir` as files when set, else to the
// cluster's vigil-reports index.

import { envBoolean } from "@vigil/common";
import { z } from "zod";
import { triageConfigSchema } from "../triage/triage-config";
import { DEFAULT_REPORT_LIMITS } from "./types";

const MINUTE_MS = 60_000;

export const reportsConfigSchema = z
  .object({
    enabled: envBoolean.optional(),
    /** Reports as files, one directory per level (embedded default <dataDir>/reports). */
    dir: z.string().min(1).optional(),
    /** How often the schedule looks for due periods. */
    intervalMs: z.coerce
      .number()
      .int()
      .min(1000)
      .max(60 * MINUTE_MS)
      .default(MINUTE_MS),
    /** A period is generated this long after it ends, so events in flight are in the store. */
    delayMs: z.coerce
      .number()
      .int()
      .min(0)
      .max(60 * MINUTE_MS)
      .default(2 * MINUTE_MS),
    /** Late events up to this long after a cell ended regenerate it and the levels above. */
    graceMs: z.coerce
      .number()
      .int()
      .min(0)
      .max(7 * 24 * 60 * MINUTE_MS)
      .default(60 * MINUTE_MS),
    /** A hub that dies mid-generation holds a period's lease this long at most. */
    lockLeaseMs: z.coerce
      .number()
      .int()
      .min(10_000)
      .max(24 * 60 * MINUTE_MS)
      .default(15 * MINUTE_MS),
    limits: z
      .object({
        topEntries: z.coerce.number().int().min(1).max(10_000).default(DEFAULT_REPORT_LIMITS.topEntries),
        newItems: z.coerce.number().int().min(1).max(100_000).default(DEFAULT_REPORT_LIMITS.newItems),
      })
      .strict()
      .prefault({}),
    /** Optional AI triage of reports (and alerts); off by default. */
    triage: triageConfigSchema.prefault({}),
  })
  .strict();

export type ReportsConfig = z.infer<typeof reportsConfigSchema>;
