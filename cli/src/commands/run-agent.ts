import { loadAgentConfig, startAgent } from "@vigil/agent";
import { createLogger, keepBatchObjectsYoung } from "@vigil/common";
import type { Stopper } from "./stopper";

// `vigil agent` on its own module: the agent process loads the agent and
// what it uses, not the server, hub, API or Elasticsearch client (each of
// those would stay in its heap for the life of the process).

export async function runAgent(configFile: string | undefined): Promise<Stopper> {
  keepBatchObjectsYoung();
  const config = loadAgentConfig({ file: configFile });
  const logger = createLogger({ name: "vigil-agent", level: config.logLevel });
  const agent = await startAgent(config, logger, undefined, { configFile });
  return () => agent.stop();
}
