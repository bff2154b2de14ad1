// Public face of @vigil/agent.
export { agentConfigSchema, COLLECTOR_NAMES, loadAgentConfig } from "./config";
export type { AgentConfig, CollectorName } from "./config";
export { buildCollectors, startAgent } from "./start-agent";
export type { RunningAgent } from "./start-agent";
export { VigilAgent } from "./vigil-agent";
export type { VigilAgentOptions } from "./vigil-agent";
export { ReplayCollector } from "./collectors/replay/replay-collector";
export type { ReplayOptions } from "./collectors/replay/replay-collector";
export { ProcfsCollector } from "./collectors/procfs/procfs-collector";
export { DEFAULT_PROCFS_INTERVAL_MS } from "./collectors/procfs/types";
export type { ProcfsCollectorOptions } from "./collectors/procfs/types";
export { FtraceCollector } from "./collectors/ftrace/ftrace-collector";
export { DEFAULT_SENSITIVE_PATHS, FTRACE_DEFAULTS } from "./collectors/ftrace/types";
export type { FtraceCollectorOptions } from "./collectors/ftrace/types";
export type { Collector, EventSink } from "./collectors/types";
export { readHostInfo } from "./host/host-info";
export type { HostInfo } from "./host/host-info";
export { AGENT_VERSION } from "./version";
