// `vigil tokens create|list|revoke`: API tokens through the REST API (admin role).
// For an HTTPS API signed by a private CA, point NODE_EXTRA_CA_CERTS at the CA file.
import { type ApiOptions, apiRequest as request } from "./api-client";

export type TokensApiOptions = ApiOptions;

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
