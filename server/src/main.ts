// vigil-server, distributed mode: agents in over gRPC, events out to NATS JetStream.
import { connectNatsBus, createLogger, SqliteAlertStore } from "@vigil/common";
import { loadServerConfig } from "./config";
import { startVigilServer } from "./vigil-server";

async function main(): Promise<void> {
  const config = loadServerConfig({ file: process.env.VIGIL_SERVER_CONFIG });
  const logger = createLogger({ name: "vigil-server", level: config.logLevel });
  if (!config.nats) {
    throw new Error("nats.servers is required for vigil-server on its own (set VIGIL_SERVER_NATS__SERVERS); use `vigil start` for embedded mode");
  }
  const bus = await connectNatsBus({ ...config.nats, name: config.serverId, logger });
  const alertReader = config.alertStorePath ? SqliteAlertStore.open(config.alertStorePath, { readOnly: true }) : undefined;
  const server = await startVigilServer({ config, bus, logger, alertReader });
  const shutdown = async (signal: string) => {
    logger.info({ signal }, "shutting down");
    await server.close();
    await bus.close();
    process.exit(0);
  };
  process.once("SIGINT", () => void shutdown("SIGINT"));
  process.once("SIGTERM", () => void shutdown("SIGTERM"));
}

main().catch((error: unknown) => {
  process.stderr.write(`vigil-server: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
