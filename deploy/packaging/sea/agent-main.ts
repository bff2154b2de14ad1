// `vigil-agent`: the agent alone, as the single executable the vigil-agent
// package installs (build-sea.mjs bundles this file). Same program as
// `vigil agent`, without the CLI's other commands and without Node.js on the host.
import { existsSync } from "node:fs";
import { parseArgs } from "node:util";
import { AGENT_VERSION, checkConfigFile, loadAgentConfig, startAgent } from "@vigil/agent";
import { createLogger, keepBatchObjectsYoung } from "@vigil/common";

const DEFAULT_CONFIG = "/etc/vigil/agent.yaml";

const HELP = `Usage: vigil-agent [options]

Watches this host (driver, ftrace, procfs collectors) and streams its events
to the Vigil servers. Settings come from the config file, then VIGIL_AGENT_*
environment variables (the environment wins).

Options:
  -c, --config <file>  YAML configuration (default: ${DEFAULT_CONFIG} when it exists)
      --check-config   validate the configuration, print what the agent would use, exit
  -v, --version        print the version and exit
  -h, --help           print this help and exit
`;

function fail(message: string): never {
  process.stderr.write(`vigil-agent: ${message}\n`);
  process.exit(1);
}

function parseCommandLine() {
  try {
    return parseArgs({
      options: {
        config: { type: "string", short: "c" },
        "check-config": { type: "boolean", default: false },
        version: { type: "boolean", short: "v", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (error) {
    fail(`${(error as Error).message} (see vigil-agent --help)`);
  }
}

/** What --check-config prints: the settings that decide where events go, no secrets. */
function configSummary(configFile: string | undefined) {
  const config = loadAgentConfig({ file: configFile });
  if (configFile) checkConfigFile(configFile);
  return {
    configFile: configFile ?? null,
    servers: config.discovery.mode === "static" ? config.servers : [],
    discovery: config.discovery.mode,
    collectors: config.collectors,
    stateDir: config.stateDir,
    tls: config.tls !== undefined,
    token: config.token !== undefined || config.enrollmentToken !== undefined,
  };
}

async function main(): Promise<void> {
  const args = parseCommandLine();
  if (args.help) {
    process.stdout.write(HELP);
    return;
  }
  if (args.version) {
    process.stdout.write(`vigil-agent ${AGENT_VERSION} (Node.js ${process.version})\n`);
    return;
  }
  const configFile = args.config ?? (existsSync(DEFAULT_CONFIG) ? DEFAULT_CONFIG : undefined);
  if (args["check-config"]) {
    process.stdout.write(`${JSON.stringify(configSummary(configFile), null, 2)}\n`);
    return;
  }
  keepBatchObjectsYoung();
  const config = loadAgentConfig({ file: configFile });
  const logger = createLogger({ name: "vigil-agent", level: config.logLevel });
  // A signal during start-up waits for the start to finish, then stops cleanly.
  const running = startAgent(config, logger, undefined, { configFile });
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`vigil-agent: ${signal}, stopping\n`);
    running
      .then((agent) => agent.stop())
      .then(
        () => process.exit(0),
        (error: unknown) => fail(`error while stopping: ${String(error)}`),
      );
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  await running;
}

main().catch((error: unknown) => fail(error instanceof Error ? error.message : String(error)));
