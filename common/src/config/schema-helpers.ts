import { z } from "zod";

/** A list that may come from YAML (array) or the environment ("a,b,c"). */
export function listOf<T extends z.ZodType>(item: T) {
  return z.preprocess(
    (value) =>
      typeof value === "string"
        ? value
            .split(",")
            .map((entry) => entry.trim())
            .filter((entry) => entry.length > 0)
        : value,
    z.array(item),
  );
}

/** A boolean that may come from the environment ("true", "1", "false", "0"). */
export const envBoolean = z.preprocess((value) => {
  if (typeof value !== "string") return value;
  const lowered = value.trim().toLowerCase();
  if (["true", "1", "yes", "on"].includes(lowered)) return true;
  if (["false", "0", "no", "off", ""].includes(lowered)) return false;
  return value;
}, z.boolean());

export function isLoopbackHost(host: string): boolean {
  return host === "localhost" || host === "::1" || host === "[::1]" || host.startsWith("127.");
}

/** NATS connection settings shared by server and hub. */
export const natsConfigSchema = z
  .object({
    servers: listOf(z.string().min(1)).pipe(z.array(z.string()).min(1)),
    name: z.string().optional(),
    token: z.string().optional(),
    user: z.string().optional(),
    password: z.string().optional(),
    tls: z
      .object({
        caFile: z.string().optional(),
        certFile: z.string().optional(),
        keyFile: z.string().optional(),
      })
      .strict()
      .optional(),
  })
  .strict();

export type NatsConfig = z.infer<typeof natsConfigSchema>;

/** pino levels a program's logLevel may take. */
export const logLevelSchema = z
  .enum(["trace", "debug", "info", "warn", "error", "fatal", "silent"])
  .default("info");

/** Where a program without its own HTTP server serves /healthz and /metrics. */
export const metricsEndpointSchema = z
  .object({ host: z.string().default("127.0.0.1"), port: z.coerce.number().int().min(0).max(65535) })
  .strict();
