import { timingSafeEqual } from "node:crypto";
import { status as GrpcStatus, type Metadata } from "@grpc/grpc-js";
import type { EnrollmentStore } from "../enrollment/enrollment-store";
import { peerAddress } from "../enrollment/source-rate-limit";

/** Call metadata an enrolled agent sends on Connect, beside "authorization: Bearer <credential>". */
export const AGENT_ID_METADATA = "vigil-agent-id";

export type ConnectAuth =
  /** agentId: the enrolled identity the stream's Hello must carry (undefined: legacy token or open). */
  | { ok: true; agentId: string | undefined; method: "credential" | "legacy-token" | "open" }
  | { ok: false; code: GrpcStatus; details: string; reason: string; agentId?: string };

/** Outcomes that spend a token of the caller's address (store.sourceLimit). */
const FAILED_AUTH_REASONS = new Set(["not-enrolled", "bad-credential"]);

export interface ConnectAuthOptions {
  store: EnrollmentStore | undefined;
  /** grpc.agentToken: the legacy shared token, accepted only when configured. */
  legacyToken: string | undefined;
}

/**
 * Decides whether a Connect stream may open, before any message is read:
 * agent id + credential (enrolled agents), else the legacy shared token when
 * one is configured, else — only when the server has neither, a loopback dev
 * setup — anyone. Enrolled agents are checked against the shared enrolment
 * bucket; an address whose failed checks used up its rate limit is refused
 * RESOURCE_EXHAUSTED before its credential is looked at.
 */
export function connectAuthenticator(
  options: ConnectAuthOptions,
): (metadata: Metadata, peer: string) => Promise<ConnectAuth> {
  const legacy = options.legacyToken ? Buffer.from(`Bearer ${options.legacyToken}`) : undefined;
  const open = !options.store && !legacy;
  const check = async (metadata: Metadata, store: EnrollmentStore, agentId: string): Promise<ConnectAuth> => {
    const authorization = metadata.get("authorization")[0];
    const credential =
      typeof authorization === "string" && authorization.startsWith("Bearer ") ? authorization.slice(7) : "";
    const outcome = await store.authenticate(agentId, credential);
    switch (outcome) {
      case "ok":
        return { ok: true, agentId, method: "credential" };
      case "revoked":
        return {
          ok: false,
          code: GrpcStatus.PERMISSION_DENIED,
          details: "agent revoked",
          reason: "revoked",
          agentId,
        };
      case "unknown-agent":
        return {
          ok: false,
          code: GrpcStatus.UNAUTHENTICATED,
          details: "agent not enrolled",
          reason: "not-enrolled",
          agentId,
        };
      case "bad-credential":
        return {
          ok: false,
          code: GrpcStatus.UNAUTHENTICATED,
          details: "invalid agent credential",
          reason: "bad-credential",
          agentId,
        };
      default: {
        const unreachable: never = outcome;
        return unreachable;
      }
    }
  };
  return async (metadata, peer) => {
    const authorization = metadata.get("authorization")[0];
    const agentId = metadata.get(AGENT_ID_METADATA)[0];
    const store = options.store;
    if (typeof agentId === "string" && store) {
      const source = peerAddress(peer);
      const limited = store.sourceLimit.check(source);
      if (!limited.allowed) {
        return {
          ok: false,
          code: GrpcStatus.RESOURCE_EXHAUSTED,
          details: `too many failed agent authentications from ${source}: retry in ${Math.ceil(limited.retryAfterMs / 1000)} s`,
          reason: "rate-limited",
          agentId,
        };
      }
      const auth = await check(metadata, store, agentId);
      if (!auth.ok && FAILED_AUTH_REASONS.has(auth.reason)) store.sourceLimit.take(source);
      return auth;
    }
    if (legacy && typeof authorization === "string") {
      const given = Buffer.from(authorization);
      if (given.length === legacy.length && timingSafeEqual(given, legacy)) {
        return { ok: true, agentId: undefined, method: "legacy-token" };
      }
    }
    if (open) return { ok: true, agentId: undefined, method: "open" };
    return {
      ok: false,
      code: GrpcStatus.UNAUTHENTICATED,
      details: options.store
        ? "missing or invalid agent credential: enrol with an enrollment token first"
        : "missing or invalid agent token",
      reason: "unauthenticated",
    };
  };
}
