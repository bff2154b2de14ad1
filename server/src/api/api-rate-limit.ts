import rateLimit from "@fastify/rate-limit";
import type { ApiApp } from "./api-app";

export interface ApiRateLimit {
  max: number;
  windowMs: number;
}

/**
 * Requests per caller per window: keyed by API token id once the auth hook
 * has named the caller (a token used from many addresses shares one budget),
 * by client address for anonymous callers. Beyond it: 429 with Retry-After.
 */
export async function registerRateLimit(app: ApiApp, limit: ApiRateLimit): Promise<void> {
  const windowSeconds = Math.round(limit.windowMs / 1000);
  await app.register(rateLimit, {
    global: true,
    max: limit.max,
    timeWindow: limit.windowMs,
    keyGenerator: (request) =>
      request.actor && request.actor.id !== "anonymous" ? `token:${request.actor.id}` : `ip:${request.ip}`,
    errorResponseBuilder: (_request, context) => ({
      statusCode: 429,
      error: "rate_limited",
      message: `rate limit of ${context.max} requests per ${windowSeconds} s exceeded; retry in ${context.after}`,
    }),
  });
}
