// One HTTPS (or HTTP) POST of a JSON body with a deadline and an optional CA,
// and what its outcome means for retrying. The URL is a secret (chat webhooks
// carry their token in the path): nothing returned here contains it.

import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";

export type PostOutcome =
  | { kind: "delivered"; status: number }
  /** Worth trying again: network error, timeout, 408, 429, 5xx. */
  | { kind: "retry"; reason: string; retryAfterMs: number | undefined }
  /** The receiver refused this message for good (other 4xx). */
  | { kind: "refused"; reason: string };

export interface PostOptions {
  url: URL;
  body: string;
  timeoutMs: number;
  /** PEM CA bundle the receiver's certificate must chain to (default: the system's). */
  ca?: Buffer;
}

/** Longest receiver answer read (for the reason); the rest is discarded. */
const MAX_RESPONSE_BYTES = 4096;

export function postJson(options: PostOptions): Promise<PostOutcome> {
  const { url, body, timeoutMs, ca } = options;
  const send = url.protocol === "https:" ? httpsRequest : httpRequest;
  return new Promise((resolve) => {
    const request = send(
      url,
      {
        method: "POST",
        headers: {
          "content-type": "application/json; charset=utf-8",
          "content-length": Buffer.byteLength(body),
          "user-agent": "vigil-hub-notifier",
        },
        ...(url.protocol === "https:" && ca ? { ca } : {}),
        signal: AbortSignal.timeout(timeoutMs),
      },
      (response) => {
        let received = "";
        response.setEncoding("utf8");
        response.on("data", (chunk: string) => {
          if (received.length < MAX_RESPONSE_BYTES)
            received += chunk.slice(0, MAX_RESPONSE_BYTES - received.length);
        });
        response.on("error", () => undefined);
        response.on("end", () => {
          const status = response.statusCode ?? 0;
          const reason = `HTTP ${status}${received ? `: ${received.replace(/\s+/g, " ").trim()}` : ""}`;
          if (status >= 200 && status < 300) resolve({ kind: "delivered", status });
          else if (status === 408 || status === 429 || status >= 500) {
            resolve({ kind: "retry", reason, retryAfterMs: retryAfterMs(response.headers["retry-after"]) });
          } else resolve({ kind: "refused", reason });
        });
      },
    );
    request.on("error", (error: NodeJS.ErrnoException) => {
      // Codes and names only: some messages quote the request target.
      const reason =
        error.name === "AbortError" || error.name === "TimeoutError"
          ? `no answer within ${timeoutMs} ms`
          : (error.code ?? error.name);
      resolve({ kind: "retry", reason, retryAfterMs: undefined });
    });
    request.end(body);
  });
}

/** Retry-After in seconds (dates are rare from webhook receivers and ignored). */
function retryAfterMs(header: string | undefined): number | undefined {
  const seconds = Number(header);
  return header !== undefined && Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : undefined;
}
