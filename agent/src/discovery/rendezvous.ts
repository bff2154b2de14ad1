import { createHash } from "node:crypto";
import type { ServerCandidate } from "./types";

/**
 * Rendezvous (highest random weight) hashing: every agent ranks every server
 * by a hash of (agent id, server address) and takes the highest. Agents spread
 * evenly, and when a server is added only the agents that now rank it first
 * (about 1/N) would move; when one leaves, only its agents move, each to its
 * own second choice, so they spread over the rest.
 */
export function rendezvousWeight(agentId: string, address: string): bigint {
  return createHash("sha256").update(agentId).update("\0").update(address).digest().readBigUInt64BE(0);
}

/** Candidates best first: lower priority group first, then by weight; duplicate addresses once. */
export function rendezvousOrder<T extends ServerCandidate>(agentId: string, candidates: readonly T[]): T[] {
  const seen = new Set<string>();
  const weighted: Array<{ candidate: T; weight: bigint }> = [];
  for (const candidate of candidates) {
    if (seen.has(candidate.address)) continue;
    seen.add(candidate.address);
    weighted.push({ candidate, weight: rendezvousWeight(agentId, candidate.address) });
  }
  weighted.sort((a, b) => {
    const byPriority = (a.candidate.priority ?? 0) - (b.candidate.priority ?? 0);
    if (byPriority !== 0) return byPriority;
    return a.weight > b.weight ? -1 : a.weight < b.weight ? 1 : 0;
  });
  return weighted.map((entry) => entry.candidate);
}
