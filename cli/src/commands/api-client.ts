// The CLI's one client for the Vigil REST API (alerts, agents, rules, config,
// tasks, tokens). For an HTTPS API signed by a private CA, point
// NODE_EXTRA_CA_CERTS at the CA file.

export interface ApiOptions {
  api: string;
  token?: string;
  json: boolean;
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

/**
 * Calls the API (`path` may carry a query string); a non-2xx answer throws an
 * ApiError with the API's message (it names the bad field).
 */
export async function apiRequest<T>(
  options: Pick<ApiOptions, "api" | "token">,
  method: string,
  path: string,
  body?: unknown,
): Promise<T> {
  const response = await fetch(new URL(path, options.api), {
    method,
    headers: {
      ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  }).catch((error: Error) => {
    throw new Error(
      `cannot reach the Vigil API at ${options.api} (${error.message}); is \`npm start\` running?`,
    );
  });
  const text = await response.text();
  let answer: Record<string, unknown> = {};
  try {
    if (text) answer = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // Not JSON (a proxy's error page): the text itself is the message below.
  }
  if (!response.ok) {
    const message = typeof answer.message === "string" ? answer.message : text || response.statusText;
    throw new ApiError(`API ${response.status}: ${message}`, response.status, answer);
  }
  return answer as T;
}
