import { createHash, randomBytes, timingSafeEqual } from "node:crypto";

// An API token reads `vgl_<id>_<secret>`: the id (public, 96 bits) names the
// token in lists, logs and the audit trail; the secret (256 bits) is shown
// once and kept only as its SHA-256 (a fast hash is enough for a random
// secret of this size: there is nothing to guess).

const ID_BYTES = 12;
const SECRET_BYTES = 32;
export const API_TOKEN_ID_PATTERN = /^[A-Za-z0-9_-]{16}$/;
const TOKEN_PATTERN = /^vgl_([A-Za-z0-9_-]{16})_([A-Za-z0-9_-]{43})$/;

export interface ParsedApiToken {
  id: string;
  secret: string;
}

export interface NewApiToken extends ParsedApiToken {
  /** What the holder sends as `authorization: Bearer <token>`. */
  token: string;
  secretHash: string;
}

export function newApiToken(): NewApiToken {
  const id = randomBytes(ID_BYTES).toString("base64url");
  const secret = randomBytes(SECRET_BYTES).toString("base64url");
  return { id, secret, token: `vgl_${id}_${secret}`, secretHash: hashSecret(secret) };
}

/** The id and secret of a well-formed token; undefined for anything else. */
export function parseApiToken(token: string): ParsedApiToken | undefined {
  const match = TOKEN_PATTERN.exec(token);
  return match ? { id: match[1], secret: match[2] } : undefined;
}

export function hashSecret(secret: string): string {
  return createHash("sha256").update(secret).digest("hex");
}

/** Constant-time comparison of a presented secret with a stored hash. */
export function secretMatches(secret: string, storedHash: string): boolean {
  const given = Buffer.from(hashSecret(secret), "hex");
  const stored = Buffer.from(storedHash, "hex");
  return given.length === stored.length && timingSafeEqual(given, stored);
}
