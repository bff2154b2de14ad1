import type { EcsAgent, EcsHost, Hello } from "@vigil/proto";

/** What the server knows about the agent on one stream, built once from its Hello. */
export interface AgentIdentity {
  agentId: string;
  host: EcsHost;
  agent: EcsAgent;
  labels: Record<string, string>;
  /** Groups the agent declared (agent config "groups"): config documents and tasks target them. */
  groups: string[];
  /** Version of the loaded kernel driver ("" without one). */
  driverVersion: string;
}

export function identityFromHello(hello: Hello): AgentIdentity {
  return {
    agentId: hello.agentId,
    host: {
      id: hello.agentId,
      name: hello.hostname,
      hostname: hello.hostname,
      architecture: hello.architecture,
      ip: hello.ipAddresses,
      os: { type: "linux", name: hello.osName, version: hello.osVersion, kernel: hello.kernelRelease },
    },
    agent: { id: hello.agentId, type: "vigil-agent", version: hello.agentVersion },
    labels: { ...hello.labels },
    groups: [...hello.groups],
    driverVersion: hello.driverVersion,
  };
}
