import {
  ErrorCodes,
  isVigilError,
  type KvBucket,
  type KvBucketSpec,
  type KvEntry,
  type KvWatch,
} from "@vigil/common";
import type { AuditActor } from "../../audit/types";
import type { ApiRole } from "../api-roles";
import { newApiToken, parseApiToken, secretMatches } from "./api-token-format";

// API tokens live in one KV bucket shared by every server instance; each
// instance keeps them in memory, kept current by a KV watch, so a token
// created or revoked on one instance is accepted or refused by all.

export const API_TOKENS_BUCKET: KvBucketSpec = {
  name: "vigil-api-tokens",
  history: 5,
  ttlMs: 0,
  maxValueBytes: 4096,
};

/** lastUsedAt is written at most this often per token (it is a hint, not a log). */
const LAST_USED_WRITE_INTERVAL_MS = 60_000;

/** A token as stored: the secret only as its SHA-256. */
interface StoredApiToken {
  id: string;
  name: string;
  role: ApiRole;
  secretHash: string;
  createdAt: string;
  createdBy: string;
  expiresAt?: string;
  lastUsedAt?: string;
  revokedAt?: string;
  revokedBy?: string;
}

/** A token as the API lists it: everything but the secret hash. */
export type ApiTokenInfo = Omit<StoredApiToken, "secretHash">;

export interface CreatedApiToken extends ApiTokenInfo {
  /** The bearer token; shown once, never stored. */
  token: string;
}

export interface CreateApiTokenInput {
  name: string;
  role: ApiRole;
  ttlSeconds?: number;
  createdBy: AuditActor;
}

interface Cached {
  token: StoredApiToken;
  revision: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function info(token: StoredApiToken): ApiTokenInfo {
  const { secretHash: _hidden, ...rest } = token;
  return rest;
}

export class ApiTokenStore {
  private readonly cache = new Map<string, Cached>();
  private readonly lastUsedWrites = new Map<string, number>();
  private watch: KvWatch | undefined;

  private constructor(private readonly bucket: KvBucket) {}

  /** Loads every token, then follows changes made by any instance. */
  static async open(bucket: KvBucket): Promise<ApiTokenStore> {
    const store = new ApiTokenStore(bucket);
    store.watch = await bucket.watch({ initialValues: true }, (entry) => store.apply(entry));
    return store;
  }

  /** False once closed: the cache no longer follows other instances. */
  isWatching(): boolean {
    return this.watch !== undefined;
  }

  close(): void {
    this.watch?.stop();
    this.watch = undefined;
  }

  async create(input: CreateApiTokenInput): Promise<CreatedApiToken> {
    const fresh = newApiToken();
    const now = Date.now();
    const stored: StoredApiToken = {
      id: fresh.id,
      name: input.name,
      role: input.role,
      secretHash: fresh.secretHash,
      createdAt: new Date(now).toISOString(),
      createdBy: input.createdBy.id,
      ...(input.ttlSeconds ? { expiresAt: new Date(now + input.ttlSeconds * 1000).toISOString() } : {}),
    };
    const revision = await this.bucket.create(stored.id, encoder.encode(JSON.stringify(stored)));
    this.remember(stored, revision);
    return { ...info(stored), token: fresh.token };
  }

  /** Every token, newest first, revoked and expired ones included. */
  list(): ApiTokenInfo[] {
    return [...this.cache.values()]
      .map((cached) => info(cached.token))
      .sort((a, b) => b.createdAt.localeCompare(a.createdAt));
  }

  /** Marks the token revoked (kept for the record); undefined when unknown. */
  async revoke(
    id: string,
    by: AuditActor,
  ): Promise<{ before: ApiTokenInfo; after: ApiTokenInfo } | undefined> {
    for (;;) {
      const entry = await this.bucket.get(id);
      if (!entry) return undefined;
      const before = JSON.parse(decoder.decode(entry.value)) as StoredApiToken;
      if (before.revokedAt) return { before: info(before), after: info(before) };
      const after: StoredApiToken = { ...before, revokedAt: new Date().toISOString(), revokedBy: by.id };
      try {
        const revision = await this.bucket.update(id, encoder.encode(JSON.stringify(after)), entry.revision);
        this.remember(after, revision);
        return { before: info(before), after: info(after) };
      } catch (error) {
        // Someone else wrote it meanwhile (a lastUsedAt update): read again.
        if (!isVigilError(error, ErrorCodes.KV_CONFLICT)) throw error;
      }
    }
  }

  /**
   * The actor for a presented bearer token, or undefined when it is malformed,
   * unknown, revoked or expired. A token this instance has not seen yet (made
   * on another instance a moment ago) is looked up in the bucket.
   */
  async authenticate(bearer: string): Promise<{ id: string; name: string; role: ApiRole } | undefined> {
    const parsed = parseApiToken(bearer);
    if (!parsed) return undefined;
    let cached = this.cache.get(parsed.id);
    if (!cached) {
      const entry = await this.bucket.get(parsed.id);
      if (!entry) return undefined;
      this.apply(entry);
      cached = this.cache.get(parsed.id);
      if (!cached) return undefined;
    }
    const { token } = cached;
    if (!secretMatches(parsed.secret, token.secretHash)) return undefined;
    const now = Date.now();
    if (token.revokedAt || (token.expiresAt && Date.parse(token.expiresAt) <= now)) return undefined;
    this.noteUse(cached, now);
    return { id: token.id, name: token.name, role: token.role };
  }

  private noteUse(cached: Cached, now: number): void {
    const id = cached.token.id;
    if (now - (this.lastUsedWrites.get(id) ?? 0) < LAST_USED_WRITE_INTERVAL_MS) return;
    this.lastUsedWrites.set(id, now);
    const next = { ...cached.token, lastUsedAt: new Date(now).toISOString() };
    // Compare-and-set: a lost race (e.g. with a revocation) is simply skipped.
    this.bucket.update(id, encoder.encode(JSON.stringify(next)), cached.revision).then(
      (revision) => this.remember(next, revision),
      () => undefined,
    );
  }

  private apply(entry: KvEntry): void {
    const known = this.cache.get(entry.key);
    if (known && known.revision >= entry.revision) return;
    if (entry.operation === "delete") {
      this.cache.delete(entry.key);
      return;
    }
    try {
      this.remember(JSON.parse(decoder.decode(entry.value)) as StoredApiToken, entry.revision);
    } catch {
      // Not a token record (written by hand?): ignored rather than trusted.
    }
  }

  private remember(token: StoredApiToken, revision: number): void {
    const known = this.cache.get(token.id);
    if (known && known.revision >= revision) return;
    this.cache.set(token.id, { token, revision });
  }
}
