export const ENROLLMENT_TOKEN_KINDS = ["one-time", "fleet"] as const;
export type EnrollmentTokenKind = (typeof ENROLLMENT_TOKEN_KINDS)[number];

/** What the API lists about a token: never the token itself. */
export interface EnrollmentTokenInfo {
  id: string;
  kind: EnrollmentTokenKind;
  label: string;
  createdAt: string;
  /** null: never expires (fleet tokens only). */
  expiresAt: string | null;
  revokedAt: string | null;
  /** Agents enrolled with it. */
  uses: number;
  lastUsedAt: string | null;
  state: "active" | "expired" | "used" | "revoked";
}

/** Returned once, when the token is created: the only time the secret is shown. */
export interface CreatedEnrollmentToken extends EnrollmentTokenInfo {
  token: string;
}

export interface EnrolledAgentInfo {
  agentId: string;
  hostname: string;
  tokenId: string;
  enrolledAt: string;
  /** Last successful authentication with the credential (null: never used). */
  lastAuthAt: string | null;
  revokedAt: string | null;
}

export interface EnrollRequestFacts {
  agentId: string;
  hostname: string;
  facts: Record<string, unknown>;
}

export type EnrollRefusal =
  | "token-invalid"
  | "token-expired"
  | "token-used"
  | "token-revoked"
  | "agent-revoked"
  | "agent-exists";

export type EnrollOutcome =
  | { ok: true; credential: string; enrolledAtMs: number; tokenId: string; kind: EnrollmentTokenKind }
  | { ok: false; refusal: EnrollRefusal; message: string; tokenId?: string };

/** Result of checking an agent's credential on Connect. */
export type AuthOutcome = "ok" | "unknown-agent" | "bad-credential" | "revoked";
