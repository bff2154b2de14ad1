// Settings of the events writer (hub config key `events`): off by default.
// Where events go follows the hub: `storePath` (SQLite, embedded) and/or the
// hub's `elasticsearch` cluster (data stream vigil-events, its own retention).

import { envBoolean, listOf } from "@vigil/common";
import { z } from "zod";

/** event.action names as the server writes them ("open-read", "exec", "credential-change"). */
const actionName = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, "is not an event.action name");

export const eventsWriterConfigSchema = z
  .object({
    /** Unset: on in embedded mode (`vigil start`), off for a distributed hub. */
    enabled: envBoolean.optional(),
    /** event.action values never stored. */
    exclude: listOf(actionName).default([]),
    /** Share of events kept per event.action (0..1), chosen by event id so a redelivery keeps the same ones. */
    sample: z.record(actionName, z.coerce.number().min(0).max(1)).default({}),
    /** SQLite event store (embedded mode); retention by maxBytes / maxDays. */
    storePath: z.string().optional(),
    maxBytes: z.coerce
      .number()
      .int()
      .min(1024 * 1024)
      .default(1024 ** 3),
    maxDays: z.coerce.number().positive().max(3650).default(7),
    /** Elasticsearch data stream lifecycle ("30d"); unset keeps events until deleted. */
    retention: z.string().optional(),
    /** An existing ILM policy for vigil-events' backing indices (instead of retention). */
    ilmPolicy: z.string().optional(),
    consumer: z
      .object({
        maxInFlight: z.coerce.number().int().min(1).max(10_000).default(64),
        ackWaitMs: z.coerce.number().int().min(1000).default(30_000),
        maxDeliver: z.coerce.number().int().min(1).default(100),
        retryDelayMs: z.coerce.number().int().min(0).default(2000),
      })
      .strict()
      .prefault({}),
  })
  .strict()
  .superRefine((config, context) => {
    for (const action of config.exclude) {
      if (action in config.sample) {
        context.addIssue({
          code: "custom",
          path: ["sample", action],
          message: `"${action}" is also in events.exclude: an action is either excluded or sampled`,
        });
      }
    }
  });

export type EventsWriterConfig = z.infer<typeof eventsWriterConfigSchema>;
