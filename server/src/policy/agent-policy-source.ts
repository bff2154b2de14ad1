import {
  type AgentPolicy,
  agentPolicySchema,
  ErrorCodes,
  encodeAgentSettings,
  VigilError,
} from "@vigil/common";
import type { ConfigUpdate } from "@vigil/proto";

/** One version of the agent policy, as agents receive it. */
export interface AgentPolicyVersion {
  version: number;
  policy: AgentPolicy;
  /** ConfigUpdate.settings of this version. */
  settings: Record<string, string>;
}

export type AgentPolicyListener = (current: AgentPolicyVersion) => void;

/**
 * The agent policy this server pushes, versioned. Today its source is the
 * server configuration (agentPolicy), version 1 at start; replace() makes a
 * new version and tells every subscriber (the gRPC ingress pushes it to every
 * connected agent), which is what a managed source (operator API, KV watch)
 * calls. Agents apply whatever version their server sends: a version orders
 * updates within one source, it is not compared across servers.
 */
export class AgentPolicySource {
  private currentVersion: AgentPolicyVersion;
  private readonly listeners = new Set<AgentPolicyListener>();

  constructor(initial: AgentPolicy) {
    this.currentVersion = versionOf(1, initial);
  }

  current(): AgentPolicyVersion {
    return this.currentVersion;
  }

  /** The current version as the ConfigUpdate message agents get. */
  configUpdate(): ConfigUpdate {
    const { version, settings } = this.currentVersion;
    return { version, settings: { ...settings } };
  }

  /**
   * Validates `policy` (the agentPolicy config shape) and makes it the next
   * version. Throws VIGIL_ERR_CONFIG_INVALID naming every bad key; the current
   * version then stays.
   */
  replace(policy: unknown): AgentPolicyVersion {
    const parsed = agentPolicySchema.safeParse(policy);
    if (!parsed.success) {
      const problems = parsed.error.issues.map(
        (issue) => `${issue.path.join(".") || "(root)"}: ${issue.message}`,
      );
      throw new VigilError(ErrorCodes.CONFIG_INVALID, `invalid agent policy: ${problems.join("; ")}`);
    }
    this.currentVersion = versionOf(this.currentVersion.version + 1, parsed.data);
    for (const listener of this.listeners) listener(this.currentVersion);
    return this.currentVersion;
  }

  /** Calls `listener` on every new version; returns the unsubscribe function. */
  subscribe(listener: AgentPolicyListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

function versionOf(version: number, policy: AgentPolicy): AgentPolicyVersion {
  return { version, policy, settings: encodeAgentSettings(policy) };
}
