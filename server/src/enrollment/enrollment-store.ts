// Enrolled agents and enrollment tokens, in SQLite (node:sqlite). Secrets are
// stored only as digests (see secrets.ts); nothing here logs them.

import { chmodSync, closeSync, openSync } from "node:fs";
import { DatabaseSync, type StatementSync } from "node:sqlite";
import { ErrorCodes, VigilError } from "@vigil/common";
import { digest, matchesDigest, newEnrollmentToken, newPublicId, newSalt, newSecret } from "./secrets";
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

export interface EnrollmentStoreOptions {
  /** Database file, created 0600; ":memory:" for tests. */
  path: string;
  busyTimeoutMs?: number;
  /** Clock (ms since the epoch), for tests. */
  now?: () => number;
}

export interface CreateTokenOptions {
  kind: EnrollmentTokenKind;
  /** Lifetime from now; undefined: no expiry (fleet tokens only). */
  ttlMs?: number;
  label?: string;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS enrollment_tokens (
  id TEXT PRIMARY KEY,
  kind TEXT NOT NULL CHECK (kind IN ('one-time', 'fleet')),
  token_hash BLOB NOT NULL UNIQUE,
  label TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL,
  expires_at INTEGER,
  revoked_at INTEGER,
  uses INTEGER NOT NULL DEFAULT 0,
  last_used_at INTEGER
);
CREATE TABLE IF NOT EXISTS agents (
  agent_id TEXT PRIMARY KEY,
  credential_salt TEXT NOT NULL,
  credential_hash BLOB NOT NULL,
  hostname TEXT NOT NULL DEFAULT '',
  facts TEXT NOT NULL DEFAULT '{}',
  token_id TEXT NOT NULL,
  enrolled_at INTEGER NOT NULL,
  last_auth_at INTEGER,
  revoked_at INTEGER
);
`;

interface TokenRow {
  id: string;
  kind: EnrollmentTokenKind;
  label: string;
  created_at: number;
  expires_at: number | null;
  revoked_at: number | null;
  uses: number;
  last_used_at: number | null;
}

interface AgentRow {
  agent_id: string;
  credential_salt: string;
  credential_hash: Uint8Array;
  hostname: string;
  token_id: string;
  enrolled_at: number;
  last_auth_at: number | null;
  revoked_at: number | null;
}

/**
 * The server's enrolment state. Every method is synchronous and short; writes
 * run in IMMEDIATE transactions so several server processes may share one
 * file on one host (busy timeout).
 *
 * Enrolment rules: a one-time token enrols one agent, once, before it
 * expires; a fleet token enrols any number until it expires (if it does) or
 * is revoked. An agent id already enrolled may enrol again only while its
 * credential has never been used (the answer to the first attempt was lost);
 * after that, and after revocation, the id is refused.
 */
export class EnrollmentStore {
  private readonly db: DatabaseSync;
  private readonly now: () => number;
  private readonly statements: Record<string, StatementSync>;

  constructor(options: EnrollmentStoreOptions) {
    this.now = options.now ?? Date.now;
    if (options.path !== ":memory:") {
      try {
        closeSync(openSync(options.path, "a", 0o600));
        chmodSync(options.path, 0o600);
      } catch (cause) {
        throw new VigilError(
          ErrorCodes.CONFIG_INVALID,
          `enrollment.storePath: cannot create ${options.path} (${(cause as Error).message})`,
          { cause },
        );
      }
    }
    this.db = new DatabaseSync(options.path, { timeout: options.busyTimeoutMs ?? 5000 });
    this.db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;");
    this.db.exec(SCHEMA);
    const prepare = (sql: string) => this.db.prepare(sql);
    this.statements = {
      insertToken: prepare(
        "INSERT INTO enrollment_tokens (id, kind, token_hash, label, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)",
      ),
      tokenByHash: prepare("SELECT * FROM enrollment_tokens WHERE token_hash = ?"),
      tokenById: prepare("SELECT * FROM enrollment_tokens WHERE id = ?"),
      listTokens: prepare("SELECT * FROM enrollment_tokens ORDER BY created_at, id"),
      revokeToken: prepare("UPDATE enrollment_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL"),
      useToken: prepare("UPDATE enrollment_tokens SET uses = uses + 1, last_used_at = ? WHERE id = ?"),
      agentById: prepare("SELECT * FROM agents WHERE agent_id = ?"),
      listAgents: prepare("SELECT * FROM agents ORDER BY enrolled_at, agent_id"),
      upsertAgent: prepare(
        `INSERT INTO agents (agent_id, credential_salt, credential_hash, hostname, facts, token_id, enrolled_at)
         VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (agent_id) DO UPDATE SET credential_salt = excluded.credential_salt,
           credential_hash = excluded.credential_hash, hostname = excluded.hostname,
           facts = excluded.facts, token_id = excluded.token_id, enrolled_at = excluded.enrolled_at`,
      ),
      touchAgent: prepare("UPDATE agents SET last_auth_at = ? WHERE agent_id = ?"),
      revokeAgent: prepare("UPDATE agents SET revoked_at = ? WHERE agent_id = ? AND revoked_at IS NULL"),
    };
  }

  createToken(options: CreateTokenOptions): CreatedEnrollmentToken {
    if (options.kind === "one-time" && options.ttlMs === undefined) {
      throw new VigilError(ErrorCodes.ENROLLMENT, "a one-time enrollment token needs an expiry");
    }
    const token = newEnrollmentToken();
    const id = newPublicId();
    const now = this.now();
    const expiresAt = options.ttlMs === undefined ? null : now + options.ttlMs;
    this.statements.insertToken.run(id, options.kind, digest(token), options.label ?? "", now, expiresAt);
    return { ...this.tokenInfo(this.statements.tokenById.get(id) as unknown as TokenRow), token };
  }

  listTokens(): EnrollmentTokenInfo[] {
    return (this.statements.listTokens.all() as unknown as TokenRow[]).map((row) => this.tokenInfo(row));
  }

  /** Revokes a token (agents it enrolled keep their credentials). undefined: no such token. */
  revokeToken(id: string): EnrollmentTokenInfo | undefined {
    this.statements.revokeToken.run(this.now(), id);
    const row = this.statements.tokenById.get(id) as unknown as TokenRow | undefined;
    return row ? this.tokenInfo(row) : undefined;
  }

  enroll(token: string, request: EnrollRequestFacts): EnrollOutcome {
    const now = this.now();
    this.db.exec("BEGIN IMMEDIATE");
    try {
      const outcome = this.enrollLocked(token, request, now);
      this.db.exec(outcome.ok ? "COMMIT" : "ROLLBACK");
      return outcome;
    } catch (error) {
      this.db.exec("ROLLBACK");
      throw error;
    }
  }

  /** Checks a Connect's credential; records the time on success. */
  authenticate(agentId: string, credential: string): AuthOutcome {
    const row = this.statements.agentById.get(agentId) as unknown as AgentRow | undefined;
    if (!row) return "unknown-agent";
    // Credential first: only its holder learns that an agent is revoked.
    if (!matchesDigest(credential, row.credential_salt, row.credential_hash)) return "bad-credential";
    if (row.revoked_at !== null) return "revoked";
    this.statements.touchAgent.run(this.now(), agentId);
    return "ok";
  }

  /** Revokes an agent: its Connects and enrolments are refused from now on. undefined: never enrolled. */
  revokeAgent(agentId: string): EnrolledAgentInfo | undefined {
    this.statements.revokeAgent.run(this.now(), agentId);
    const row = this.statements.agentById.get(agentId) as unknown as AgentRow | undefined;
    return row ? agentInfo(row) : undefined;
  }

  getAgent(agentId: string): EnrolledAgentInfo | undefined {
    const row = this.statements.agentById.get(agentId) as unknown as AgentRow | undefined;
    return row ? agentInfo(row) : undefined;
  }

  listAgents(): EnrolledAgentInfo[] {
    return (this.statements.listAgents.all() as unknown as AgentRow[]).map(agentInfo);
  }

  close(): void {
    if (this.db.isOpen) this.db.close();
  }

  private enrollLocked(token: string, request: EnrollRequestFacts, now: number): EnrollOutcome {
    const tokenRow = this.statements.tokenByHash.get(digest(token)) as unknown as TokenRow | undefined;
    if (!tokenRow) return refuse("token-invalid", "enrollment token unknown");
    const tokenId = tokenRow.id;
    const existing = this.statements.agentById.get(request.agentId) as unknown as AgentRow | undefined;
    if (tokenRow.revoked_at !== null) return refuse("token-revoked", "enrollment token revoked", tokenId);
    if (tokenRow.expires_at !== null && tokenRow.expires_at <= now) {
      return refuse("token-expired", "enrollment token expired", tokenId);
    }
    // A one-time token may be presented again only by the agent it enrolled, to repeat a lost answer.
    const retry = existing !== undefined && existing.token_id === tokenId && existing.last_auth_at === null;
    if (tokenRow.kind === "one-time" && tokenRow.uses > 0 && !retry) {
      return refuse("token-used", "enrollment token already used", tokenId);
    }
    if (existing?.revoked_at != null) return refuse("agent-revoked", "agent revoked", tokenId);
    if (existing && existing.last_auth_at !== null) {
      return refuse(
        "agent-exists",
        `agent ${request.agentId} is already enrolled; an agent that lost its credential needs a new agent id (or revoke this one)`,
        tokenId,
      );
    }
    const credential = newSecret();
    const salt = newSalt();
    this.statements.upsertAgent.run(
      request.agentId,
      salt,
      digest(credential, salt),
      request.hostname.slice(0, 255),
      JSON.stringify(request.facts).slice(0, 4096),
      tokenId,
      now,
    );
    if (!retry) this.statements.useToken.run(now, tokenId);
    return { ok: true, credential, enrolledAtMs: now, tokenId, kind: tokenRow.kind };
  }

  private tokenInfo(row: TokenRow): EnrollmentTokenInfo {
    const now = this.now();
    const state =
      row.revoked_at !== null
        ? "revoked"
        : row.kind === "one-time" && row.uses > 0
          ? "used"
          : row.expires_at !== null && row.expires_at <= now
            ? "expired"
            : "active";
    return {
      id: row.id,
      kind: row.kind,
      label: row.label,
      createdAt: iso(row.created_at),
      expiresAt: isoOrNull(row.expires_at),
      revokedAt: isoOrNull(row.revoked_at),
      uses: row.uses,
      lastUsedAt: isoOrNull(row.last_used_at),
      state,
    };
  }
}

function refuse(refusal: EnrollRefusal, message: string, tokenId?: string): EnrollOutcome {
  return { ok: false, refusal, message, tokenId };
}

function agentInfo(row: AgentRow): EnrolledAgentInfo {
  return {
    agentId: row.agent_id,
    hostname: row.hostname,
    tokenId: row.token_id,
    enrolledAt: iso(row.enrolled_at),
    lastAuthAt: isoOrNull(row.last_auth_at),
    revokedAt: isoOrNull(row.revoked_at),
  };
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function isoOrNull(ms: number | null): string | null {
  return ms === null ? null : iso(ms);
}
