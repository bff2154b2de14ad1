// Public face of @vigil/server.
export { loadServerConfig, serverConfigSchema, DEFAULT_API_PORT, DEFAULT_GRPC_PORT } from "./config";
export type { ServerConfig } from "./config";
export { startVigilServer } from "./vigil-server";
export type { VigilServer, VigilServerDependencies } from "./vigil-server";
export { normalizeEvent } from "./normalize/normalize-event";
export type { EventPosition } from "./normalize/normalize-event";
export { identityFromHello } from "./normalize/agent-identity";
export type { AgentIdentity } from "./normalize/agent-identity";
export type { AgentRecord } from "./registry/agent-registry";
