import { type AgentPolicy, agentPolicySchema, encodeAgentSettings, parseAgentSettings } from "@vigil/common";
import { type TargetableAgent, targetMatches } from "../control/agent-target";
import type { StoredConfigDocument } from "./config-document";

// Precedence: the fleet default, then group documents, then label documents;
// within a kind, lower priority first, then name in code-point order. Later
// documents override earlier ones key by key (a list replaces a list, it is
// not appended to). A document whose keys would make the merged policy
// invalid (e.g. together over the driver's 16 KiB filter write) is skipped,
// and the answer says so.
//
// The version is global: the highest KV revision among the documents the
// agent gets and the bucket's deletion epoch (a document deleted raises it).
// Every server computes the same version from the same bucket, and any change
// to an agent's effective policy raises its version.

const KIND_RANK = { fleet: 0, group: 1, label: 2, agent: 3 } as const;

export interface EffectivePolicy {
  version: number;
  policy: AgentPolicy;
  /** ConfigUpdate.settings of `policy`. */
  settings: Record<string, string>;
  /** The documents merged, in precedence order (last wins). */
  documents: Array<{ name: string; target: string; priority: number; revision: number }>;
  skipped: Array<{ name: string; reason: string }>;
}

export function compareDocuments(a: StoredConfigDocument, b: StoredConfigDocument): number {
  const byKind = KIND_RANK[a.parsedTarget.kind] - KIND_RANK[b.parsedTarget.kind];
  if (byKind !== 0) return byKind;
  if (a.priority !== b.priority) return a.priority - b.priority;
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

const SECTIONS = ["driver", "batch", "limits", "log"] as const;

/** `over` laid on `base`, key by key within each section. */
export function mergePolicies(base: AgentPolicy, over: AgentPolicy): AgentPolicy {
  const merged: Record<string, Record<string, unknown>> = {};
  for (const section of SECTIONS) {
    const fields = { ...(base[section] ?? {}) } as Record<string, unknown>;
    for (const [field, value] of Object.entries(over[section] ?? {})) {
      if (value !== undefined) fields[field] = value;
    }
    if (section === "driver" || Object.keys(fields).length > 0) merged[section] = fields;
  }
  return merged as unknown as AgentPolicy;
}

/** Why the agent would refuse `policy`, or undefined: the server's schema, then the agent's own parser of the wire form. */
function refusal(policy: AgentPolicy): string | undefined {
  const parsed = agentPolicySchema.safeParse(policy);
  if (!parsed.success) {
    return parsed.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`).join("; ");
  }
  const onWire = parseAgentSettings(encodeAgentSettings(parsed.data));
  return onWire.errors.length > 0 ? onWire.errors.join("; ") : undefined;
}

export function effectivePolicy(
  documents: Iterable<StoredConfigDocument>,
  epoch: number,
  agent: TargetableAgent,
): EffectivePolicy {
  const matching = [...documents].filter((document) => targetMatches(document.parsedTarget, agent));
  matching.sort(compareDocuments);
  let policy: AgentPolicy = { driver: {} };
  let version = epoch;
  const used: EffectivePolicy["documents"] = [];
  const skipped: EffectivePolicy["skipped"] = [];
  for (const document of matching) {
    // A skipped document still counts for the version: its write changed what this agent was computed from.
    version = Math.max(version, document.revision);
    const next = mergePolicies(policy, document.policy);
    const problem = refusal(next);
    if (problem) {
      skipped.push({ name: document.name, reason: problem });
      continue;
    }
    policy = next;
    used.push({
      name: document.name,
      target: document.target,
      priority: document.priority,
      revision: document.revision,
    });
  }
  const parsed = agentPolicySchema.parse(policy);
  return { version, policy: parsed, settings: encodeAgentSettings(parsed), documents: used, skipped };
}
