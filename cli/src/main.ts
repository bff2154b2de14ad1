// `vigil`: embedded mode (start), the distributed programs (server, hub,
// agent) and analyst commands (alerts, agents, rules).
import "./require-node";
import { Command, InvalidArgumentError } from "commander";
import { showAgents } from "./commands/agents";
import { showAlerts } from "./commands/alerts";
import type { ApiOptions } from "./commands/api-client";
import { deleteConfig, listConfig, setConfig, showConfig } from "./commands/config";
import {
  addRule,
  deleteRule,
  listRules,
  listVersions,
  type RulesApiOptions,
  rollbackRuleset,
  setRuleEnabled,
  showRule,
  testRule,
  updateRule,
} from "./commands/rules";
import type { Stopper } from "./commands/stopper";
import { type RunTaskOptions, runTask, showTask } from "./commands/tasks";
import { createToken, listTokens, revokeToken, type TokensApiOptions } from "./commands/tokens";
import { defaultDataDir } from "./data-dir";

const DEFAULT_API = process.env.VIGIL_API_URL ?? "http://127.0.0.1:8080";

function port(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0 || parsed > 65535)
    throw new InvalidArgumentError("must be a port number");
  return parsed;
}

function positive(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 1) throw new InvalidArgumentError("must be a positive integer");
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

program
  .command("alerts")
  .description("show the newest alerts")
  .option("--api <url>", "Vigil REST API", DEFAULT_API)
  .option("--token <token>", "API bearer token (or VIGIL_API_TOKEN)", process.env.VIGIL_API_TOKEN)
  .option("--level <level>", "only this level and above (low, medium, high, critical)")
  .option("--rule <id>", "only this rule id")
  .option("--host <name>", "only this host")
  .option("-n, --limit <n>", "how many", positive, 50)
  .option("--json", "one JSON document per line", false)
  .option("-f, --follow", "keep printing new alerts", false)
  .action((options) => showAlerts(options));

program
  .command("agents")
  .description("list agents known to the server")
  .option("--api <url>", "Vigil REST API", DEFAULT_API)
  .option("--token <token>", "API bearer token (or VIGIL_API_TOKEN)", process.env.VIGIL_API_TOKEN)
  .option("--json", "one JSON document per line", false)
  .action((options) => showAgents(options.api, options.token, options.json));

const rules = program.command("rules").description("rules and ruleset versions (changes need role operator)");

/** Adds a `vigil rules` subcommand with the API options every one of them takes. */
function rulesCommand(
  spec: string,
  description: string,
  run: (options: RulesApiOptions, ...args: string[]) => Promise<void>,
) {
  return rules
    .command(spec)
    .description(description)
    .option("--api <url>", "Vigil REST API", DEFAULT_API)
    .option("--token <token>", "API bearer token (or VIGIL_API_TOKEN)", process.env.VIGIL_API_TOKEN)
    .option("--json", "print the API's JSON answer", false)
    .action((...args: unknown[]) => {
      const command = args.at(-1) as Command;
      const positional = command.args;
      return run(command.opts() as RulesApiOptions, ...positional);
    });
}

rulesCommand("list", "rules in the current ruleset", (options) => listRules(options));
rulesCommand("show <id>", "one rule's YAML and the versions that changed it", (options, id) =>
  showRule(options, id),
);
rulesCommand("add <file>", "add a Sigma rule (YAML file)", (options, file) => addRule(options, file, true));
rulesCommand("update <id> <file>", "replace a rule with a new YAML file", (options, id, file) =>
  updateRule(options, id, file),
);
rulesCommand("enable <id>", "enable a rule", (options, id) => setRuleEnabled(options, id, true));
rulesCommand("disable <id>", "disable a rule (kept in the ruleset, not evaluated)", (options, id) =>
  setRuleEnabled(options, id, false),
);
rulesCommand("delete <id>", "remove a rule", (options, id) => deleteRule(options, id));
rulesCommand(
  "test <path> [events]",
  "<dir>: run the directory's rule tests (<dir>/tests/*.yml) locally, PASS/FAIL per rule; <file> <events>: API dry run, which events (JSON lines of ECS documents) the rule fires on",
  async (options, path, events) => {
    if (events !== undefined) return testRule(options, path, events);
    // Loaded on use: the hub's compiler stays out of the other commands' heap.
    const { testRulesDirectory } = await import("./commands/rules-test.js");
    await testRulesDirectory(path, options);
  },
);
rules
  .command("validate <paths...>")
  .description(
    "check rule files or directories offline with the hub's compiler; problems as file:line:column (files given together resolve each other's references)",
  )
  .option(
    "--rules <dir>",
    "also read this rules directory to resolve references (its own problems are not reported)",
  )
  .option("--json", "one JSON document with valid and problems", false)
  .action(async (paths: string[], options: { rules?: string; json: boolean }) => {
    const { validateRules } = await import("./commands/rules-validate.js");
    validateRules(paths, options);
  });
rulesCommand("versions", "ruleset versions, newest first (* = current)", (options) => listVersions(options));
rulesCommand(
  "rollback <version>",
  "restore the rules of an earlier version as a new version",
  (options, version) => {
    const parsed = Number(version);
    if (!Number.isInteger(parsed) || parsed < 1)
      throw new InvalidArgumentError("version must be a positive integer");
    return rollbackRuleset(options, parsed);
  },
);

const tokens = program.command("tokens").description("API tokens (admin role): create, list, revoke");

/** Adds a `vigil tokens` subcommand with the API options every one of them takes. */
function tokensCommand(spec: string, description: string) {
  return tokens
    .command(spec)
    .description(description)
    .option("--api <url>", "Vigil REST API", DEFAULT_API)
    .option("--token <token>", "admin API bearer token (or VIGIL_API_TOKEN)", process.env.VIGIL_API_TOKEN)
    .option("--json", "print the API's JSON answer", false);
}

tokensCommand("create", "create a token; prints it once (stdout)")
  .requiredOption("--name <name>", "who or what holds it")
  .requiredOption("--role <role>", "viewer, operator or admin")
  .option("--ttl <seconds>", "expire after this many seconds (default: never)", positive)
  .action((options) => createToken(options));
tokensCommand("list", "tokens without their secrets").action((options: TokensApiOptions) =>
  listTokens(options),
);
tokensCommand("revoke <id>", "revoke a token on every server").action(
  (id: string, options: TokensApiOptions) => revokeToken(options, id),
);

/** Adds a subcommand of `parent` with the API options every API command takes. */
function apiCommand(parent: Command, spec: string, description: string, role: string) {
  return parent
    .command(spec)
    .description(description)
    .option("--api <url>", "Vigil REST API", DEFAULT_API)
    .option("--token <token>", `${role} API bearer token (or VIGIL_API_TOKEN)`, process.env.VIGIL_API_TOKEN)
    .option("--json", "print the API's JSON answer", false);
}

const agentConfig = program
  .command("config")
  .description(
    "agent config documents: fleet default, group:<name>, label:<k>=<v> (merged default < group < label)",
  );
apiCommand(agentConfig, "list", "the documents", "viewer").action((options: ApiOptions) =>
  listConfig(options),
);
apiCommand(agentConfig, "show <name>", "one document", "viewer").action((name: string, options: ApiOptions) =>
  showConfig(options, name),
);
apiCommand(
  agentConfig,
  "set <name> <file>",
  "create or replace a document from a JSON file (- for stdin)",
  "operator",
).action((name: string, file: string, options: ApiOptions) => setConfig(options, name, file));
apiCommand(agentConfig, "delete <name>", "delete a document", "operator").action(
  (name: string, options: ApiOptions) => deleteConfig(options, name),
);

const fleetTasks = program.command("tasks").description("fleet tasks: process-list, kill-process, file-hash");
apiCommand(fleetTasks, "run <kind> [params...]", "run a task (params as key=value) on its target", "operator")
  .option("--agent <id>", "one agent")
  .option("--group <name>", "agents in a group")
  .option("--label <k=v>", "agents carrying these labels (k=v[,k=v])")
  .option("--fleet", "every agent", false)
  .option("--ttl <seconds>", "deliver to agents that connect within this long (default 3600)", positive)
  .action((kind: string, params: string[], options: RunTaskOptions) => runTask(options, kind, params));
apiCommand(fleetTasks, "show <id>", "a task and every agent's result", "viewer").action(
  (id: string, options: ApiOptions) => showTask(options, id),
);

program.parseAsync().catch((error: unknown) => {
  process.stderr.write(`vigil: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
