// `vigil`: embedded mode (start), the distributed programs (server, hub,
// agent) and the operator commands (operator-commands.ts).
import "./require-node";
import { Command, InvalidArgumentError } from "commander";
import type { Stopper } from "./commands/stopper";
import { defaultDataDir } from "./data-dir";
import { addOperatorCommands } from "./operator-commands";

function port(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0 || parsed > 65535)
    throw new InvalidArgumentError("must be a port number");
  return parsed;
}

/**
 * Keeps the process up until SIGINT/SIGTERM, then stops cleanly and exits 0.
 * Installed before the program starts, so a signal that arrives while it is
 * still starting (connecting to NATS, setting up tracefs) waits for the start
 * and then stops it, instead of killing the process half set up.
 */
function untilSignal(started: Promise<Stopper>): Promise<unknown> {
  let stopping = false;
  const onSignal = (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`vigil: ${signal}, stopping\n`);
    started
      .then((stop) => stop())
      .then(
        () => process.exit(0),
        (error: unknown) => {
          process.stderr.write(`vigil: error while stopping: ${String(error)}\n`);
          process.exit(1);
        },
      );
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  return started;
}

// `vigil alerts | head` closes stdout early: that is not an error.
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code === "EPIPE") process.exit(0);
  throw error;
});

const program = new Command("vigil").description("Vigil host intrusion detection").showHelpAfterError();

program
  .command("start")
  .description("embedded mode: server, hub and a local agent watching this host, alerts in SQLite")
  .option("-c, --config <file>", "YAML file with server:, hub: and agent: sections")
  .option("--data-dir <dir>", "alert database and agent state", defaultDataDir())
  .option("--api-port <port>", "REST API port (default 8080)", port)
  .option("--grpc-port <port>", "agent gRPC port (default 7443)", port)
  .option("--replay <files...>", "also replay recorded events (JSON lines)")
  .option("--collectors <names>", "agent collectors, comma separated (ftrace,procfs,replay)")
  .action(async (options) => {
    const collectors = options.collectors
      ? String(options.collectors).split(",")
      : options.replay
        ? ["ftrace", "procfs", "replay"]
        : undefined;
    // Each program's modules load only when it runs (see commands/run-agent.ts).
    const { startEmbedded } = await import("./commands/embedded.js");
    (await import("@vigil/common")).keepBatchObjectsYoung();
    await untilSignal(
      startEmbedded({
        configFile: options.config,
        dataDir: options.dataDir,
        apiPort: options.apiPort,
        grpcPort: options.grpcPort,
        replayFiles: options.replay,
        collectors: collectors as never,
      }).then((vigil) => () => vigil.stop()),
    );
  });

const programs: [string, string, () => Promise<(configFile: string | undefined) => Promise<Stopper>>][] = [
  [
    "server",
    "distributed mode: gRPC ingress → NATS JetStream (config: --config or VIGIL_SERVER_*)",
    async () => (await import("./commands/distributed.js")).runServer,
  ],
  [
    "hub",
    "distributed mode: NATS JetStream → rules → alerts (config: --config or VIGIL_HUB_*)",
    async () => (await import("./commands/distributed.js")).runHub,
  ],
  [
    "agent",
    "distributed mode: this host's agent (config: --config or VIGIL_AGENT_*)",
    async () => (await import("./commands/run-agent.js")).runAgent,
  ],
];
for (const [name, description, load] of programs) {
  program
    .command(name)
    .description(description)
    .option("-c, --config <file>", "YAML configuration file")
    .action(async (options) => {
      const run = await load();
      await untilSignal(run(options.config));
    });
}

addOperatorCommands(program);

program.parseAsync().catch((error: unknown) => {
  process.stderr.write(`vigil: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
