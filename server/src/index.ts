// Public face of @vigil/server.

export type { ServerConfig } from "./config";
export { DEFAULT_API_PORT, DEFAULT_GRPC_PORT, loadServerConfig, serverConfigSchema } from "./config";
export type { ControlPlane } from "./control/control-plane";
export type { ConsulRegistrationOptions } from "./discovery/consul-registration";
export { ConsulRegistration } from "./discovery/consul-registration";
export type { CreateTokenOptions, EnrollmentStoreOptions } from "./enrollment/enrollment-store";
export { EnrollmentStore } from "./enrollment/enrollment-store";
export type {
  AuthOutcome,
  CreatedEnrollmentToken,
  EnrolledAgentInfo,
  EnrollmentTokenInfo,
  EnrollmentTokenKind,
  EnrollOutcome,
} from "./enrollment/types";
export { AGENT_ID_METADATA } from "./ingress/connect-auth";
export type { AgentIdentity } from "./normalize/agent-identity";
export { identityFromHello } from "./normalize/agent-identity";
export { normalizeBatch } from "./normalize/normalize-batch";
export type { EventPosition } from "./normalize/normalize-event";
export { normalizeEvent } from "./normalize/normalize-event";
export type { EffectivePolicy } from "./policy/effective-policy";
export { FLEET_COUNTERS } from "./registry/agent-fleet-metrics";
export type { AgentChange, AgentRecord } from "./registry/agent-registry";
export { AgentRegistry } from "./registry/agent-registry";
export type { AgentPage, AgentQuery, FleetStats } from "./registry/fleet-query";
export { fleetStats, queryAgents } from "./registry/fleet-query";
export type { AgentStatus, FleetAgentRecord, FleetAgentView } from "./registry/fleet-record";
export { AGENTS_BUCKET, agentStatus } from "./registry/fleet-record";
export type { FleetRegistryOptions } from "./registry/fleet-registry";
export { FleetRegistry } from "./registry/fleet-registry";
export type { SourcePosition } from "./rules/problem-location";
export { locateProblem } from "./rules/problem-location";
export type { VigilServer, VigilServerDependencies } from "./vigil-server";
export { startVigilServer } from "./vigil-server";
