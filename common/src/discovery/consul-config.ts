import { z } from "zod";
import { ErrorCodes, VigilError } from "../errors";

/** Where Consul is when neither config nor CONSUL_HTTP_ADDR says: the local Consul agent. */
export const DEFAULT_CONSUL_ADDRESS = "http://127.0.0.1:8500";

/**
 * How a program reaches Consul, shared by the agent (discovery) and the server
 * (self-registration). Unset keys fall back to Consul's own environment
 * variables (CONSUL_HTTP_ADDR, CONSUL_HTTP_TOKEN, CONSUL_CACERT, CONSUL_HTTP_SSL).
 */
export const consulConnectionShape = {
  /** "http(s)://host:port" or "host:port" (then CONSUL_HTTP_SSL=true means https). */
  address: z
    .string()
    .min(1)
    .refine((value) => parseConsulAddress(value, false) !== undefined, "must be a URL or host:port")
    .optional(),
  /** ACL token, sent as X-Consul-Token; never logged. Default: CONSUL_HTTP_TOKEN. */
  token: z.string().min(1).optional(),
  /** CA bundle (PEM) that signs Consul's HTTPS certificate. Default: CONSUL_CACERT. */
  caFile: z.string().min(1).optional(),
  /** Consul datacenter to ask (default: the local agent's). */
  datacenter: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,64}$/)
    .optional(),
};

export const consulConnectionSchema = z.object(consulConnectionShape).strict();
export type ConsulConnectionConfig = z.infer<typeof consulConnectionSchema>;

/** A connection with the environment's fallbacks applied. */
export interface ConsulConnection {
  /** Base URL without trailing slash. */
  address: string;
  token: string | undefined;
  caFile: string | undefined;
  datacenter: string | undefined;
}

export function resolveConsulConnection(
  config: ConsulConnectionConfig,
  env: NodeJS.ProcessEnv = process.env,
): ConsulConnection {
  const https = ["1", "true", "yes"].includes((env.CONSUL_HTTP_SSL ?? "").toLowerCase());
  const raw = config.address ?? env.CONSUL_HTTP_ADDR ?? DEFAULT_CONSUL_ADDRESS;
  const address = parseConsulAddress(raw, https);
  if (!address) {
    const key = config.address ? "address" : "CONSUL_HTTP_ADDR";
    throw new VigilError(ErrorCodes.CONFIG_INVALID, `consul ${key}: ${raw} is not a URL or host:port`);
  }
  return {
    address,
    token: config.token ?? (env.CONSUL_HTTP_TOKEN || undefined),
    caFile: config.caFile ?? (env.CONSUL_CACERT || undefined),
    datacenter: config.datacenter,
  };
}

/** "host:port" → "http(s)://host:port"; a URL keeps its scheme. Undefined when neither. */
export function parseConsulAddress(value: string, https: boolean): string | undefined {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(value)
    ? value
    : `${https ? "https" : "http"}://${value}`;
  try {
    const url = new URL(withScheme);
    if (url.protocol !== "http:" && url.protocol !== "https:") return undefined;
    if (!url.hostname) return undefined;
    return `${url.protocol}//${url.host}${url.pathname.replace(/\/+$/, "")}`;
  } catch {
    return undefined;
  }
}
