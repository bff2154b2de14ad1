// The CLI's one client for the Vigil REST API (alerts, agents, rules, config,
// tasks, tokens, status). For an HTTPS API signed by a private CA, point
// NODE_EXTRA_CA_CERTS at the CA file.

export interface ApiOptions {
  api: string;
  token?: string;
  json: boolean;
  /** Where the token came from ("--token", "VIGIL_API_TOKEN", the config file), for 401/403 messages. */
  tokenSource?: string;
  /** Where the URL came from, for "cannot reach" messages. */
  apiSource?: string;
}

/** A non-2xx answer: its status and parsed body (a refused rule's `problems`, say). */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly answer: Record<string, unknown>,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

/** A request that waits longer than this is reported, not waited on forever. */
const REQUEST_TIMEOUT_MS = 30_000;
/** No API answer the CLI reads is this big; a bigger one is not the Vigil API. */
const MAX_ANSWER_BYTES = 64 * 1024 * 1024;

function tokenHint(options: Pick<ApiOptions, "token" | "tokenSource">): string {
  return options.token
    ? `the token from ${options.tokenSource ?? "--token"}`
    : "no token was given (use --token, VIGIL_API_TOKEN or token: in ~/.config/vigil/cli.yaml)";
}

/** The API's message, with what the operator can do about the status. */
function explain(
  status: number,
  message: string,
  options: Pick<ApiOptions, "api" | "token" | "tokenSource">,
) {
  switch (status) {
    case 401:
      return `API 401: ${message}; ${tokenHint(options)} was not accepted by ${options.api} (unknown, revoked or expired?)`;
    case 403:
      return `API 403: ${message} (${tokenHint(options)}; \`vigil tokens create --role <role>\` with an admin token makes one)`;
    case 429:
      return `API 429: ${message} (rate limited; try again shortly)`;
    default:
      return `API ${status}: ${message}`;
  }
}

/**
 * Calls the API (`path` may carry a query string); a non-2xx answer throws an
 * ApiError with the API's message (it names the bad field or the missing object).
 */
export async function apiRequest<T>(
  options: Pick<ApiOptions, "api" | "token" | "tokenSource" | "apiSource">,
  method: string,
  path: string,
  body?: unknown,
): Promise<T> {
  const url = new URL(path, options.api);
  const response = await fetch(url, {
    method,
    headers: {
      ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  }).catch((error: Error) => {
    const cause = (error.cause as Error | undefined)?.message ?? error.message;
    const from = options.apiSource ? ` (from ${options.apiSource})` : "";
    throw new Error(
      `cannot reach the Vigil API at ${options.api}${from}: ${cause}; check the URL (--api, VIGIL_API_URL or api: in ~/.config/vigil/cli.yaml), that a server runs there (\`vigil start\` or \`vigil server\`), and for https that NODE_EXTRA_CA_CERTS names its CA`,
    );
  });
  const length = Number(response.headers.get("content-length") ?? 0);
  if (length > MAX_ANSWER_BYTES) throw new Error(`API answer of ${length} bytes from ${url.origin}: too big`);
  const text = await response.text();
  let answer: Record<string, unknown> = {};
  try {
    if (text) answer = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // Not JSON (a proxy's error page): the text itself is the message below.
    if (response.ok)
      throw new Error(
        `${method} ${url.origin}${url.pathname}: the answer is not JSON; is this the Vigil API?`,
      );
  }
  if (!response.ok) {
    const message =
      typeof answer.message === "string" ? answer.message : text.slice(0, 200) || response.statusText;
    throw new ApiError(explain(response.status, message, options), response.status, answer);
  }
  return answer as T;
}
