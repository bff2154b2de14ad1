/** Reported in Hello and on every event's agent.version. */
export const AGENT_VERSION = "0.1.0";
