// Enrolled agents and enrollment tokens, in one key-value bucket shared by
// every server instance (NATS KV in distributed mode, in-process in embedded
// mode): any instance enrols, authenticates and refuses revoked agents.
// Secrets are stored only as digests (see secrets.ts); nothing here logs them.
//
//   tokens.<id>      EnrollmentTokenRecord  (the token is "vet_<id>.<secret>")
//   agents.<agentId> EnrolledAgentRecord
//
// Every change is a compare-and-set on the key's revision, so two instances
// racing on the same one-time token or agent id cannot both win.

import {
  type Bus,
  ErrorCodes,
  type KvBucket,
  type KvBucketSpec,
  type KvEntry,
  VigilError,
} from "@vigil/common";
import {
  digest,
  ENROLLMENT_TOKEN_PREFIX,
  matchesDigest,
  newEnrollmentToken,
  newPublicId,
  newSalt,
  newSecret,
} from "./secrets";
import { SourceRateLimit, type SourceRateLimitSettings } from "./source-rate-limit";
import type {
  AuthOutcome,
  CreatedEnrollmentToken,
  EnrolledAgentInfo,
  EnrollmentTokenInfo,
  EnrollmentTokenKind,
  EnrollOutcome,
  EnrollRefusal,
  EnrollRequestFacts,
} from "./types";

export const ENROLLMENT_BUCKET: KvBucketSpec = {
  name: "vigil-enrollment",
  history: 1,
  ttlMs: 0,
  maxValueBytes: 16 * 1024,
};

export interface CreateTokenOptions {
  kind: EnrollmentTokenKind;
  /** Lifetime from now; undefined: no expiry (fleet tokens only). */
  ttlMs?: number;
  label?: string;
}

export interface EnrollmentStoreOptions {
  /** Per source address limit on Enroll calls and failed credential checks. */
  rateLimit?: SourceRateLimitSettings;
  /** Clock (ms since the epoch), for tests. */
  now?: () => number;
}

export const DEFAULT_ENROLL_RATE_LIMIT: Readonly<SourceRateLimitSettings> = Object.freeze({
  burst: 20,
  perSecond: 1,
  maxSources: 100_000,
});

interface EnrollmentTokenRecord {
  id: string;
  kind: EnrollmentTokenKind;
  /** hex SHA-256 of the whole token. */
  tokenHash: string;
  label: string;
  createdAt: number;
  expiresAt: number | null;
  revokedAt: number | null;
  uses: number;
  lastUsedAt: number | null;
}

interface EnrolledAgentRecord {
  agentId: string;
  credentialSalt: string;
  /** hex SHA-256 of salt + credential. */
  credentialHash: string;
  hostname: string;
  facts: Record<string, unknown>;
  tokenId: string;
  enrolledAt: number;
  lastAuthAt: number | null;
  revokedAt: number | null;
}

interface Versioned<T> {
  record: T;
  revision: number;
}

/** lastAuthAt is rewritten at most this often per agent: reconnect storms cost no KV writes. */
const AUTH_TOUCH_INTERVAL_MS = 3600_000;
/** Compare-and-set attempts before an enrolment gives up (only under heavy contention on one key). */
const MAX_CAS_ATTEMPTS = 16;
/** Records fetched at once when listing. */
const LIST_CONCURRENCY = 32;

const TOKEN_PATTERN = new RegExp(`^${ENROLLMENT_TOKEN_PREFIX}([A-Za-z0-9_-]{1,32})\\.[A-Za-z0-9_-]{16,128}$`);

/**
 * Enrolment rules: a one-time token enrols one agent, once, before it
 * expires; a fleet token enrols any number until it expires (if it does) or
 * is revoked. An agent id already enrolled may enrol again only while its
 * credential has never been used (the answer to the first attempt was lost);
 * after that, and after revocation, the id is refused.
 */
export class EnrollmentStore {
  /** Spent by each Enroll call and each failed Connect authentication of an address. */
  readonly sourceLimit: SourceRateLimit;
  private readonly now: () => number;

  private constructor(
    private readonly kv: KvBucket,
    options: EnrollmentStoreOptions,
  ) {
    this.now = options.now ?? Date.now;
    this.sourceLimit = new SourceRateLimit(options.rateLimit ?? DEFAULT_ENROLL_RATE_LIMIT, this.now);
  }

  static async open(bus: Bus, options: EnrollmentStoreOptions = {}): Promise<EnrollmentStore> {
    return new EnrollmentStore(await bus.openKv(ENROLLMENT_BUCKET), options);
  }

  async createToken(options: CreateTokenOptions): Promise<CreatedEnrollmentToken> {
    if (options.kind === "one-time" && options.ttlMs === undefined) {
      throw new VigilError(ErrorCodes.ENROLLMENT, "a one-time enrollment token needs an expiry");
    }
    const id = newPublicId();
    const token = newEnrollmentToken(id);
    const now = this.now();
    const record: EnrollmentTokenRecord = {
      id,
      kind: options.kind,
      tokenHash: digest(token).toString("hex"),
      label: options.label ?? "",
      createdAt: now,
      expiresAt: options.ttlMs === undefined ? null : now + options.ttlMs,
      revokedAt: null,
      uses: 0,
      lastUsedAt: null,
    };
    await this.kv.create(tokenKey(id), encode(record));
    return { ...this.tokenInfo(record), token };
  }

  async listTokens(): Promise<EnrollmentTokenInfo[]> {
    const records = await this.readAll<EnrollmentTokenRecord>("tokens.*");
    return records
      .sort((a, b) => a.createdAt - b.createdAt || a.id.localeCompare(b.id))
      .map((record) => this.tokenInfo(record));
  }

  /** Revokes a token (agents it enrolled keep their credentials). undefined: no such token. */
  async revokeToken(id: string): Promise<EnrollmentTokenInfo | undefined> {
    const changed = await this.change<EnrollmentTokenRecord>(tokenKey(id), (record) =>
      record.revokedAt === null ? { ...record, revokedAt: this.now() } : undefined,
    );
    return changed ? this.tokenInfo(changed) : undefined;
  }

  async enroll(token: string, request: EnrollRequestFacts): Promise<EnrollOutcome> {
    const match = TOKEN_PATTERN.exec(token);
    if (!match) return refuse("token-invalid", "enrollment token unknown");
    const tokenId = match[1] as string;
    for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
      const outcome = await this.tryEnroll(token, tokenId, request);
      if (outcome !== "conflict") return outcome;
    }
    throw new VigilError(
      ErrorCodes.KV_CONFLICT,
      `enrolment of ${request.agentId}: ${MAX_CAS_ATTEMPTS} concurrent changes in a row; retry`,
    );
  }

  /** Checks a Connect's credential against the shared bucket; records first use. */
  async authenticate(agentId: string, credential: string): Promise<AuthOutcome> {
    const found = await this.read<EnrolledAgentRecord>(agentKey(agentId));
    if (!found) return "unknown-agent";
    const { record, revision } = found;
    // Credential first: only its holder learns that an agent is revoked.
    if (!matchesDigest(credential, record.credentialSalt, Buffer.from(record.credentialHash, "hex"))) {
      return "bad-credential";
    }
    if (record.revokedAt !== null) return "revoked";
    const now = this.now();
    if (record.lastAuthAt === null || now - record.lastAuthAt >= AUTH_TOUCH_INTERVAL_MS) {
      // Losing this race only means another instance recorded the time.
      await this.kv
        .update(agentKey(agentId), encode({ ...record, lastAuthAt: now }), revision)
        .catch((error: unknown) => {
          if (!isConflict(error)) throw error;
        });
    }
    return "ok";
  }

  /** Revokes an agent: every instance refuses its Connects and enrolments from now on. undefined: never enrolled. */
  async revokeAgent(agentId: string): Promise<EnrolledAgentInfo | undefined> {
    const changed = await this.change<EnrolledAgentRecord>(agentKey(agentId), (record) =>
      record.revokedAt === null ? { ...record, revokedAt: this.now() } : undefined,
    );
    return changed ? agentInfo(changed) : undefined;
  }

  async getAgent(agentId: string): Promise<EnrolledAgentInfo | undefined> {
    const found = await this.read<EnrolledAgentRecord>(agentKey(agentId));
    return found ? agentInfo(found.record) : undefined;
  }

  async listAgents(): Promise<EnrolledAgentInfo[]> {
    const records = await this.readAll<EnrolledAgentRecord>("agents.*");
    return records
      .sort((a, b) => a.enrolledAt - b.enrolledAt || a.agentId.localeCompare(b.agentId))
      .map(agentInfo);
  }

  /**
   * Calls `onRevoked` for every agent revoked from now on, by any instance,
   * so each one ends the agent's streams it holds.
   */
  async watchRevocations(onRevoked: (agentId: string) => void): Promise<{ stop(): void }> {
    return this.kv.watch({ key: "agents.*", initialValues: false }, (entry) => {
      if (entry.operation !== "put") return;
      const record = decode<EnrolledAgentRecord>(entry);
      if (record?.revokedAt != null) onRevoked(record.agentId);
    });
  }

  private async tryEnroll(
    token: string,
    tokenId: string,
    request: EnrollRequestFacts,
  ): Promise<EnrollOutcome | "conflict"> {
    const now = this.now();
    const tokenEntry = await this.read<EnrollmentTokenRecord>(tokenKey(tokenId));
    if (!tokenEntry || !matchesDigest(token, "", Buffer.from(tokenEntry.record.tokenHash, "hex"))) {
      return refuse("token-invalid", "enrollment token unknown");
    }
    const tokenRecord = tokenEntry.record;
    if (tokenRecord.revokedAt !== null) return refuse("token-revoked", "enrollment token revoked", tokenId);
    if (tokenRecord.expiresAt !== null && tokenRecord.expiresAt <= now) {
      return refuse("token-expired", "enrollment token expired", tokenId);
    }
    const existing = await this.read<EnrolledAgentRecord>(agentKey(request.agentId));
    // A one-time token may be presented again only by the agent it enrolled, to repeat a lost answer.
    const retry =
      existing !== undefined && existing.record.tokenId === tokenId && existing.record.lastAuthAt === null;
    if (tokenRecord.kind === "one-time" && tokenRecord.uses > 0 && !retry) {
      return refuse("token-used", "enrollment token already used", tokenId);
    }
    if (existing?.record.revokedAt != null) return refuse("agent-revoked", "agent revoked", tokenId);
    if (existing && existing.record.lastAuthAt !== null) {
      return refuse(
        "agent-exists",
        `agent ${request.agentId} is already enrolled; an agent that lost its credential needs a new agent id (or revoke this one)`,
        tokenId,
      );
    }
    // Spend the token first (compare-and-set): of two instances presenting one
    // one-time token at once, exactly one gets past this line.
    if (!retry) {
      const spent = { ...tokenRecord, uses: tokenRecord.uses + 1, lastUsedAt: now };
      if (
        !(await this.casOrConflict(() =>
          this.kv.update(tokenKey(tokenId), encode(spent), tokenEntry.revision),
        ))
      ) {
        return "conflict";
      }
    }
    const credential = newSecret();
    const salt = newSalt();
    const record: EnrolledAgentRecord = {
      agentId: request.agentId,
      credentialSalt: salt,
      credentialHash: digest(credential, salt).toString("hex"),
      hostname: request.hostname.slice(0, 255),
      facts: boundedFacts(request.facts),
      tokenId,
      enrolledAt: now,
      lastAuthAt: null,
      revokedAt: null,
    };
    const value = encode(record);
    const written = await this.casOrConflict(() =>
      existing
        ? this.kv.update(agentKey(request.agentId), value, existing.revision)
        : this.kv.create(agentKey(request.agentId), value),
    );
    if (!written) {
      // Another instance enrolled or changed this agent id meanwhile; a spent
      // one-time token stays spent (it failed closed) — re-check from the top.
      return "conflict";
    }
    return { ok: true, credential, enrolledAtMs: now, tokenId, kind: tokenRecord.kind };
  }

  /** Applies `next` to the record under CAS, retrying on conflicts; undefined: no such key. */
  private async change<T extends object>(
    key: string,
    next: (record: T) => T | undefined,
  ): Promise<T | undefined> {
    for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
      const found = await this.read<T>(key);
      if (!found) return undefined;
      const changed = next(found.record);
      if (changed === undefined) return found.record;
      if (await this.casOrConflict(() => this.kv.update(key, encode(changed), found.revision)))
        return changed;
    }
    throw new VigilError(
      ErrorCodes.KV_CONFLICT,
      `${key}: ${MAX_CAS_ATTEMPTS} concurrent changes in a row; retry`,
    );
  }

  private async casOrConflict(write: () => Promise<number>): Promise<boolean> {
    try {
      await write();
      return true;
    } catch (error) {
      if (isConflict(error)) return false;
      throw error;
    }
  }

  private async read<T>(key: string): Promise<Versioned<T> | undefined> {
    const entry = await this.kv.get(key);
    const record = entry ? decode<T>(entry) : undefined;
    return entry && record ? { record, revision: entry.revision } : undefined;
  }

  private async readAll<T>(pattern: string): Promise<T[]> {
    const keys = await this.kv.keys(pattern);
    const records: T[] = [];
    for (let i = 0; i < keys.length; i += LIST_CONCURRENCY) {
      const batch = await Promise.all(keys.slice(i, i + LIST_CONCURRENCY).map((key) => this.read<T>(key)));
      for (const found of batch) if (found) records.push(found.record);
    }
    return records;
  }

  private tokenInfo(record: EnrollmentTokenRecord): EnrollmentTokenInfo {
    const now = this.now();
    const state =
      record.revokedAt !== null
        ? "revoked"
        : record.kind === "one-time" && record.uses > 0
          ? "used"
          : record.expiresAt !== null && record.expiresAt <= now
            ? "expired"
            : "active";
    return {
      id: record.id,
      kind: record.kind,
      label: record.label,
      createdAt: iso(record.createdAt),
      expiresAt: isoOrNull(record.expiresAt),
      revokedAt: isoOrNull(record.revokedAt),
      uses: record.uses,
      lastUsedAt: isoOrNull(record.lastUsedAt),
      state,
    };
  }
}

function tokenKey(id: string): string {
  return `tokens.${id}`;
}

function agentKey(agentId: string): string {
  return `agents.${agentId}`;
}

function encode(record: object): Uint8Array {
  return Buffer.from(JSON.stringify(record));
}

/** undefined for a value this version cannot read (never throws on a foreign writer's bytes). */
function decode<T>(entry: KvEntry): T | undefined {
  try {
    return JSON.parse(Buffer.from(entry.value).toString("utf8")) as T;
  } catch {
    return undefined;
  }
}

/** The agent's self-description, kept small: it is shown, never trusted. */
function boundedFacts(facts: Record<string, unknown>): Record<string, unknown> {
  const text = JSON.stringify(facts);
  return text.length <= 4096 ? facts : { truncated: true };
}

function isConflict(error: unknown): boolean {
  return error instanceof VigilError && error.code === ErrorCodes.KV_CONFLICT;
}

function refuse(refusal: EnrollRefusal, message: string, tokenId?: string): EnrollOutcome {
  return { ok: false, refusal, message, tokenId };
}

function agentInfo(record: EnrolledAgentRecord): EnrolledAgentInfo {
  return {
    agentId: record.agentId,
    hostname: record.hostname,
    tokenId: record.tokenId,
    enrolledAt: iso(record.enrolledAt),
    lastAuthAt: isoOrNull(record.lastAuthAt),
    revokedAt: isoOrNull(record.revokedAt),
  };
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function isoOrNull(ms: number | null): string | null {
  return ms === null ? null : iso(ms);
}
