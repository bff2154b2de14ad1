// `vigil tokens create|list|revoke`: API tokens through the REST API (admin role).
// For an HTTPS API signed by a private CA, point NODE_EXTRA_CA_CERTS at the CA file.
import { relativeTime, renderTable } from "../output/table";
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

function stateOf(token: TokenInfo): string {
  if (token.revokedAt) return `revoked ${relativeTime(token.revokedAt)}`;
  if (!token.expiresAt) return "active";
  return Date.parse(token.expiresAt) <= Date.now()
    ? `expired ${relativeTime(token.expiresAt)}`
    : `expires ${relativeTime(token.expiresAt)}`;
}

function table(tokens: TokenInfo[]): string {
  return renderTable(tokens, [
    { header: "ID", value: (t) => t.id },
    { header: "ROLE", value: (t) => t.role },
    { header: "NAME", value: (t) => t.name, shrink: true },
    { header: "CREATED", value: (t) => relativeTime(t.createdAt) },
    { header: "LAST USED", value: (t) => (t.lastUsedAt ? relativeTime(t.lastUsedAt) : "never") },
    { header: "STATE", value: stateOf },
  ]);
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
  if (options.json) for (const token of tokens) process.stdout.write(`${JSON.stringify(token)}\n`);
  else process.stdout.write(tokens.length === 0 ? "no tokens\n" : table(tokens));
}

export async function revokeToken(options: TokensApiOptions, id: string): Promise<void> {
  const revoked = await request<TokenInfo>(options, "DELETE", `/api/v1/tokens/${encodeURIComponent(id)}`);
  process.stdout.write(options.json ? `${JSON.stringify(revoked)}\n` : table([revoked]));
}
