// A small client for the Vigil REST API used by `vigil config`, `vigil tasks` and `vigil tokens`.
// For an HTTPS API signed by a private CA, point NODE_EXTRA_CA_CERTS at the CA file.

export interface ApiOptions {
  api: string;
  token?: string;
  json: boolean;
}

/** Calls the API; a non-2xx answer throws with the API's message (it names the bad field). */
export async function apiRequest<T>(
  options: ApiOptions,
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
    throw new Error(`cannot reach the Vigil API at ${options.api} (${error.message})`);
  });
  const text = await response.text();
  let answer: T & { message?: string };
  try {
    answer = (text ? JSON.parse(text) : {}) as T & { message?: string };
  } catch {
    answer = {} as T & { message?: string };
  }
  if (!response.ok) throw new Error(`API ${response.status}: ${answer.message ?? response.statusText}`);
  return answer;
}
