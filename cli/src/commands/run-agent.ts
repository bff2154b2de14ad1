import { setFlagsFromString } from "node:v8";
import { loadAgentConfig, startAgent } from "@vigil/agent";
import { createLogger } from "@vigil/common";
import type { Stopper } from "./stopper";

// `vigil agent` on its own module: the agent process loads the agent and
// what it uses, not the server, hub, API or Elasticsearch client (each of
// those would stay in its heap for the life of the process).

export async function runAgent(configFile: string | undefined): Promise<Stopper> {
  // Every event lives a batch interval (~100 ms) and then dies. V8 sees the first
  // batches survive a few of its early, frequent scavenges and from then on
  // allocates the event objects of those sites straight in the old generation,
  // which then grows to several times the live set between full collections
  // (~100 MB at 10k events/s, bench/agent-rss.mts). Young objects they are.
  setFlagsFromString("--no-allocation-site-pretenuring");
  const config = loadAgentConfig({ file: configFile });
  const logger = createLogger({ name: "vigil-agent", level: config.logLevel });
  const agent = await startAgent(config, logger, undefined, { configFile });
  return () => agent.stop();
}
