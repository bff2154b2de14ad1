// Public face of @vigil/agent.

export type { DriverCollectorOptions } from "./collectors/driver/driver-collector";
export {
  DEFAULT_DRIVER_DEVICE,
  DEFAULT_WATCHED_PREFIXES,
  DriverCollector,
} from "./collectors/driver/driver-collector";
export type { DriverFilters } from "./collectors/driver/driver-filters";
export {
  buildDriverFilterCommands,
  buildDriverFilterWrite,
  DriverFilterError,
  enabledHookMask,
  partitionAllowExecutables,
  SWITCHABLE_DRIVER_HOOKS,
} from "./collectors/driver/driver-filters";
export type { DriverReplayOptions } from "./collectors/driver/driver-replay-collector";
export { DriverReplayCollector } from "./collectors/driver/driver-replay-collector";
export { FtraceCollector } from "./collectors/ftrace/ftrace-collector";
export type { FtraceCollectorOptions } from "./collectors/ftrace/types";
export { DEFAULT_SENSITIVE_PATHS, FTRACE_DEFAULTS } from "./collectors/ftrace/types";
export { ProcfsCollector } from "./collectors/procfs/procfs-collector";
export type { ProcfsCollectorOptions } from "./collectors/procfs/types";
export { DEFAULT_PROCFS_INTERVAL_MS } from "./collectors/procfs/types";
export type { ReplayOptions } from "./collectors/replay/replay-collector";
export { ReplayCollector } from "./collectors/replay/replay-collector";
export type { Collector, EventSink, PolicyResult } from "./collectors/types";
export type { AgentConfig, CollectorName } from "./config";
export {
  agentConfigSchema,
  COLLECTOR_NAMES,
  DEFAULT_CONSUL_SERVICE,
  DISCOVERY_MODES,
  loadAgentConfig,
} from "./config";
export type { ConsulServerSourceOptions } from "./discovery/consul-source";
export { ConsulServerSource } from "./discovery/consul-source";
export { createServerSelector, createServerSource } from "./discovery/create-server-source";
export type { DnsLookup, DnsServerSourceOptions } from "./discovery/dns-source";
export { DnsServerSource } from "./discovery/dns-source";
export { rendezvousOrder, rendezvousWeight } from "./discovery/rendezvous";
export type { ServerSelectorOptions } from "./discovery/server-selector";
export { ServerSelector } from "./discovery/server-selector";
export { StaticServerSource } from "./discovery/static-source";
export type { DiscoveryMode, LinkServers, ServerCandidate, ServerSource } from "./discovery/types";
export type { AgentAuthOptions, LinkAuth } from "./enrollment/agent-auth";
export { AGENT_ID_METADATA, AgentAuth } from "./enrollment/agent-auth";
export type { StoredCredential } from "./enrollment/credential-file";
export { credentialPath, readCredential } from "./enrollment/credential-file";
export type { HostInfo } from "./host/host-info";
export { loadOrCreateAgentId, readHostInfo } from "./host/host-info";
export {
  checkConfigFile,
  checkSecretFile,
  prepareStateDir,
} from "./security/file-permissions";
export type { DiskSpoolOptions } from "./spool/disk-spool";
export { DiskSpool, spoolFileBytes } from "./spool/disk-spool";
export { MemorySpool } from "./spool/memory-spool";
export { openSpool, spoolDir } from "./spool/open-spool";
export type { BatchSpool, OverflowReport, SpooledBatch } from "./spool/types";
export type { RunningAgent, StartAgentOptions } from "./start-agent";
export { buildCollectors, startAgent } from "./start-agent";
export { AGENT_VERSION } from "./version";
export type { VigilAgentOptions } from "./vigil-agent";
export { VigilAgent } from "./vigil-agent";
