// `vigil tokens create|list|revoke`: API tokens through the REST API (admin role).
// For an HTTPS API signed by a private CA, point NODE_EXTRA_CA_CERTS at the CA file.

export interface TokensApiOptions {
  api: string;
  token?: string;
  json: boolean;
}

export interface CreateTokenOptions extends TokensApiOptions {
  name: string;
  role: string;
  /** Lifetime in seconds; absent: no expiry. */
  ttl?: number;
}

interface TokenInfo {
  id: string;
  name: string;
  role: string;
  createdAt: string;
  expiresAt?: string;
  lastUsedAt?: string;
  revokedAt?: string;
}

async function request<T>(
  options: TokensApiOptions,
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
  const answer = (await response.json().catch(() => ({}))) as T & { message?: string };
  if (!response.ok) throw new Error(`API ${response.status}: ${answer.message ?? response.statusText}`);
  return answer;
}

function line(token: TokenInfo): string {
  const state = token.revokedAt
    ? `revoked ${token.revokedAt}`
    : token.expiresAt && Date.parse(token.expiresAt) <= Date.now()
      ? `expired ${token.expiresAt}`
      : `expires ${token.expiresAt ?? "never"}`;
  return `${token.id}  ${token.role.padEnd(8)} ${token.name.padEnd(24)} created ${token.createdAt}  last used ${token.lastUsedAt ?? "never"}  ${state}\n`;
}

export async function createToken(options: CreateTokenOptions): Promise<void> {
  const created = await request<TokenInfo & { token: string }>(options, "POST", "/api/v1/tokens", {
    name: options.name,
    role: options.role,
    ...(options.ttl === undefined ? {} : { ttlSeconds: options.ttl }),
  });
  if (options.json) {
    process.stdout.write(`${JSON.stringify(created)}\n`);
    return;
  }
  process.stdout.write(`${created.token}\n`);
  process.stderr.write(`token ${created.id} (${created.role}, ${created.name}): shown once, store it now\n`);
}

export async function listTokens(options: TokensApiOptions): Promise<void> {
  const { tokens } = await request<{ tokens: TokenInfo[] }>(options, "GET", "/api/v1/tokens");
  for (const token of tokens) process.stdout.write(options.json ? `${JSON.stringify(token)}\n` : line(token));
}

export async function revokeToken(options: TokensApiOptions, id: string): Promise<void> {
  const revoked = await request<TokenInfo>(options, "DELETE", `/api/v1/tokens/${encodeURIComponent(id)}`);
  process.stdout.write(options.json ? `${JSON.stringify(revoked)}\n` : line(revoked));
}
