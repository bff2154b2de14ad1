import { hash } from "node:crypto";

/**
 * ECS process.entity_id: the same process on the same host always gets the
 * same id, and a recycled pid gets a new one because its start time differs.
 * The agent's process cache computes it (and sends it); the server computes
 * the same value for agents that do not, so the two always agree.
 */
export function processEntityId(agentId: string, pid: number, startTimeUs: number): string {
  if (!pid) return "";
  // One-shot hash: computed for every event (process, parent, grandparent), so no Hash object each time.
  return hash("sha256", `${agentId}\0${pid}\0${startTimeUs}`, "base64url").slice(0, 22);
}
