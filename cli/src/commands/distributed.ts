import {
  connectNatsBus,
  createLogger,
  ErrorCodes,
  keepBatchObjectsYoung,
  SqliteAlertStore,
  VigilError,
} from "@vigil/common";
import {
  ElasticsearchAlertReader,
  ElasticsearchEventQueries,
  loadHubConfig,
  openServerReports,
  startHub,
} from "@vigil/hub";
import { loadServerConfig, startVigilServer } from "@vigil/server";
import type { Stopper } from "./stopper";

// Distributed mode: each program on its own, configured by file and
// environment, joined through NATS JetStream.

export async function runServer(configFile: string | undefined): Promise<Stopper> {
  keepBatchObjectsYoung();
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
  // Events kept by the hubs' events writer (vigil-events), on the alerts' cluster.
  const eventQueries = config.alerts.elasticsearch
    ? new ElasticsearchEventQueries({ ...config.alerts.elasticsearch, dataStream: undefined })
    : undefined;
  // Tiered reports the hubs store there, and on-demand generation (the hubs run the schedule).
  const reports = config.alerts.elasticsearch
    ? await openServerReports(
        config.alerts.elasticsearch,
        bus,
        config.serverId,
        logger.child({ component: "reports" }),
      )
    : undefined;
  const server = await startVigilServer({ config, bus, logger, alertReader, eventQueries, reports });
  return async () => {
    // SIGTERM: a graceful drain (agents told to move, in-flight batches acked) within grpc.drainGraceMs.
    await server.close(config.grpc.drainGraceMs);
    await bus.close();
    await alertReader?.close();
    await eventQueries?.close();
    await reports?.stop();
  };
}

export async function runHub(configFile: string | undefined): Promise<Stopper> {
  keepBatchObjectsYoung();
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

function missing(key: string, program: string): VigilError {
  return new VigilError(
    ErrorCodes.CONFIG_INVALID,
    `${key} is required for \`${program}\`; use \`vigil start\` for embedded mode`,
  );
}
