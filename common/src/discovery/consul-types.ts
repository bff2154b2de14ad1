// The parts of Consul's HTTP API shapes Vigil reads and writes (Consul 1.x,
// PascalCase as on the wire). Fields Vigil does not use are left out.

export type ConsulCheckStatus = "passing" | "warning" | "critical";

export interface ConsulNode {
  ID?: string;
  Node: string;
  Address: string;
  Datacenter?: string;
  TaggedAddresses?: Record<string, string>;
  Meta?: Record<string, string>;
}

export interface ConsulAgentService {
  ID: string;
  Service: string;
  Tags?: string[] | null;
  /** Empty: use the node's address. */
  Address?: string;
  Port: number;
  Meta?: Record<string, string> | null;
}

export interface ConsulHealthCheck {
  Node?: string;
  CheckID: string;
  Name?: string;
  Status: ConsulCheckStatus | string;
  Output?: string;
  ServiceID?: string;
  ServiceName?: string;
}

/** One element of GET /v1/health/service/:service. */
export interface ConsulServiceEntry {
  Node: ConsulNode;
  Service: ConsulAgentService;
  Checks: ConsulHealthCheck[];
}

/** A check in PUT /v1/agent/service/register (HTTP or TTL). */
export interface ConsulCheckDefinition {
  CheckID?: string;
  Name?: string;
  HTTP?: string;
  Method?: string;
  Interval?: string;
  Timeout?: string;
  TTL?: string;
  TLSSkipVerify?: boolean;
  /** Initial status (Consul's default is critical). */
  Status?: ConsulCheckStatus;
  DeregisterCriticalServiceAfter?: string;
}

/** Body of PUT /v1/agent/service/register. */
export interface ConsulServiceRegistration {
  ID?: string;
  Name: string;
  Tags?: string[];
  Address?: string;
  Port?: number;
  Meta?: Record<string, string>;
  Check?: ConsulCheckDefinition;
  Checks?: ConsulCheckDefinition[];
}
