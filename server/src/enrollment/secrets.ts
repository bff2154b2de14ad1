import { createHash, randomBytes, timingSafeEqual } from "node:crypto";

/** Prefix of enrollment tokens: makes a leaked one easy to recognise (and grep for) in logs and repos. */
export const ENROLLMENT_TOKEN_PREFIX = "vet_";

/** A fresh 256-bit secret, base64url (43 characters). */
export function newSecret(): string {
  return randomBytes(32).toString("base64url");
}

/** "vet_<public id>.<secret>": the id finds the token's record, the secret proves it. */
export function newEnrollmentToken(publicId: string): string {
  return `${ENROLLMENT_TOKEN_PREFIX}${publicId}.${newSecret()}`;
}

/** Short public id of a token or record (for listing and revoking; not a secret). */
export function newPublicId(): string {
  return randomBytes(9).toString("base64url");
}

/**
 * Tokens and credentials are stored as SHA-256 digests, never in clear.
 *
 * A slow KDF (scrypt, argon2) exists to make guessing a *low-entropy* secret
 * (a password) expensive after the hashes leak. These secrets are 256 random
 * bits from the CSPRNG: no dictionary applies and brute force is 2^255 hashes
 * whatever the hash costs, so SHA-256 is as strong here as scrypt. It also
 * costs ~1 µs, where scrypt at useful parameters costs ~50 ms of CPU per
 * check: 10,000 agents reconnecting after a server restart would pin a core
 * for minutes. The per-agent salt is belt and braces: equal digests never
 * reveal equal credentials, and precomputation is useless.
 */
export function digest(secret: string, salt = ""): Buffer {
  return createHash("sha256").update(salt).update("\0").update(secret).digest();
}

export function newSalt(): string {
  return randomBytes(16).toString("base64url");
}

/** Constant-time comparison of a presented secret against a stored digest. */
export function matchesDigest(secret: string, salt: string, stored: Uint8Array): boolean {
  const given = digest(secret, salt);
  return given.length === stored.length && timingSafeEqual(given, stored);
}
