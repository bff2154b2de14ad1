import { setFlagsFromString } from "node:v8";
import { loadAgentConfig, startAgent } from "@vigil/agent";
import {
  connectNatsBus,
  createLogger,
  ElasticsearchAlertReader,
  ErrorCodes,
  SqliteAlertStore,
  VigilError,
} from "@vigil/common";
import { loadHubConfig, startHub } from "@vigil/hub";
import { loadServerConfig, startVigilServer } from "@vigil/server";

// Distributed mode: each program on its own, configured by file and
// environment, joined through NATS JetStream.

export type Stopper = () => Promise<unknown>;

export async function runServer(configFile: string | undefined): Promise<Stopper> {
  const config = loadServerConfig({ file: configFile });
  const logger = createLogger({ name: "vigil-server", level: config.logLevel });
  if (!config.nats) throw missing("nats.servers (VIGIL_SERVER_NATS__SERVERS)", "vigil server");
  const bus = await connectNatsBus({
    ...config.nats,
    name: config.nats.name ?? `vigil-server@${config.serverId}`,
    logger,
  });
  const alertReader = config.alertStorePath
    ? new SqliteAlertStore({ path: config.alertStorePath, logger })
    : config.alerts.elasticsearch
      ? new ElasticsearchAlertReader(config.alerts.elasticsearch)
      : undefined;
  const server = await startVigilServer({ config, bus, logger, alertReader });
  return async () => {
    await server.close();
    await bus.close();
    await alertReader?.close();
  };
}

export async function runHub(configFile: string | undefined): Promise<Stopper> {
  const config = loadHubConfig({ file: configFile });
  const logger = createLogger({ name: "vigil-hub", level: config.logLevel });
  if (!config.nats) throw missing("nats.servers (VIGIL_HUB_NATS__SERVERS)", "vigil hub");
  const bus = await connectNatsBus({
    ...config.nats,
    name: config.nats.name ?? `vigil-hub@${config.hubId}`,
    logger,
  });
  const hub = await startHub(config, bus, logger);
  return async () => {
    await hub.stop();
    await bus.close();
  };
}

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

function missing(key: string, program: string): VigilError {
  return new VigilError(
    ErrorCodes.CONFIG_INVALID,
    `${key} is required for \`${program}\`; use \`vigil start\` for embedded mode`,
  );
}
