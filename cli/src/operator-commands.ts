// The operator and analyst commands of `vigil` (agents, alerts, rules,
// tokens, config, tasks, status, completion), each talking to the REST API
// with a token from --token, VIGIL_API_TOKEN or ~/.config/vigil/cli.yaml.
// main.ts adds them next to the programs (start, server, hub, agent).

import { ALERT_LEVELS, type AlertLevel } from "@vigil/common";
import { Argument, type Command, InvalidArgumentError, Option } from "commander";
import { listAgents, showAgent } from "./commands/agents";
import { parseLevel, parseTime, showAlerts } from "./commands/alerts";
import type { ApiOptions } from "./commands/api-client";
import { deleteConfig, listConfig, setConfig, showConfig } from "./commands/config";
import { showEvents } from "./commands/events";
import { showAlertContext } from "./commands/events-context";
import { showProcessTree } from "./commands/events-tree";
import { generateReport, listReports, showReport } from "./commands/reports";
import {
  addRule,
  deleteRule,
  listRules,
  listVersions,
  rollbackRuleset,
  ruleHistory,
  setRuleEnabled,
  showRule,
  testRule,
  updateRule,
} from "./commands/rules";
import { showStatus } from "./commands/status";
import { listTasks, type RunTaskOptions, runTask, showTask } from "./commands/tasks";
import { createToken, listTokens, revokeToken } from "./commands/tokens";
import { commandTree } from "./completion/command-tree";
import { completionScript, SHELLS, type Shell } from "./completion/completion-scripts";
import { DEFAULT_API_URL, resolveApiTarget, resolveNats } from "./settings/cli-config";

function positive(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 1) throw new InvalidArgumentError("must be a positive integer");
  return parsed;
}

/** "30s", "10m", "2h", "1d" as milliseconds. */
function duration(value: string): number {
  const match = /^(\d+)(ms|s|m|h|d)$/.exec(value.trim());
  if (!match) throw new InvalidArgumentError("must be a duration like 30s, 10m, 2h, 1d");
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[match[2] as "s"];
  return Number(match[1]) * unit;
}

interface CommonFlags {
  api?: string;
  token?: string;
  json?: boolean;
}

/** The API, its token and where each came from, for a command's action. */
function apiOf(flags: CommonFlags): ApiOptions {
  return { ...resolveApiTarget(flags), json: Boolean(flags.json) };
}

/** The options every API command takes. */
function withApi(
  command: Command,
  role: string,
  json = "print JSON (one document per line for lists)",
): Command {
  return command
    .option(
      "--api <url>",
      `Vigil REST API (or VIGIL_API_URL, api: in ~/.config/vigil/cli.yaml; default ${DEFAULT_API_URL})`,
    )
    .option("--token <token>", `${role} API token (or VIGIL_API_TOKEN, token: in ~/.config/vigil/cli.yaml)`)
    .option("--json", json, false);
}

function addAgents(program: Command): void {
  const agents = program.command("agents").description("the fleet: list agents (filters) or show one");
  withApi(
    agents
      .command("list", { isDefault: true })
      .description("agents as the server tier sees them, sorted by id"),
    "viewer",
  )
    .addOption(
      new Option("--status <status>", "online, stale or offline").choices(["online", "stale", "offline"]),
    )
    .option("--hostname <text>", "hostname contains this (case-insensitive)")
    .option("--label <k=v>", "agents whose label k is v")
    .option("--group <name>", "agents in this group")
    .option("--version <version>", "agent version")
    .option("--driver-version <version>", "driver version")
    .option("--server <id>", "agents held by this server")
    .action((flags) =>
      listAgents(apiOf(flags), {
        status: flags.status,
        hostname: flags.hostname,
        label: flags.label,
        group: flags.group,
        version: flags.version,
        driverVersion: flags.driverVersion,
        server: flags.server,
      }),
    );
  withApi(
    agents.command("show <id>").description("one agent: host, versions, labels, last heartbeat"),
    "viewer",
  ).action((id: string, flags) => showAgent(apiOf(flags), id));
}

function addAlerts(program: Command): void {
  const alerts = withApi(
    program.command("alerts").description("search alerts (newest N, oldest first); --follow to tail"),
    "viewer",
  )
    .addOption(new Option("--level <level>", "this level and above").choices([...ALERT_LEVELS]))
    .option("--levels <levels>", `only these levels, comma separated (${ALERT_LEVELS.join(",")})`)
    .option("--rule <id>", "only this rule id")
    .option("--host <name>", "only this host.name")
    .option("-q, --text <text>", "rule name, message, command line or host name contains this")
    .option("--since <time>", "at or after: ISO time, or 30s, 15m, 2h, 7d ago")
    .option("--until <time>", "before: ISO time, or 30s, 15m, 2h, 7d ago")
    .option("-n, --limit <n>", "how many (the newest)", positive, 50)
    .option("-f, --follow", "keep printing new alerts", false)
    .option(
      "--nats [url]",
      "with --follow: read the VIGIL_ALERTS stream (or VIGIL_NATS_URL, nats: in cli.yaml)",
    )
    .option("--poll <duration>", "with --follow through the API: how often to look", duration, 2000)
    .option(
      "--lookback <duration>",
      "with --follow through the API: how late an alert may be stored and still print",
      duration,
      600_000,
    )
    .action(async (flags) => {
      const filters = {
        level: flags.level as AlertLevel | undefined,
        levels: flags.levels
          ? String(flags.levels)
              .split(",")
              .map((level) => parseLevel(level.trim(), "--levels"))
          : undefined,
        rule: flags.rule,
        host: flags.host,
        text: flags.text,
        since: flags.since ? parseTime(flags.since, "--since") : undefined,
        until: flags.until ? parseTime(flags.until, "--until") : undefined,
      };
      if (flags.nats !== undefined && !flags.follow) throw new Error("--nats: only with --follow");
      if (!flags.follow) return showAlerts({ ...apiOf(flags), ...filters, limit: flags.limit });
      const nats = resolveNats(flags.nats);
      if (nats) {
        const { followAlertsNats } = await import("./commands/alerts-follow-nats.js");
        return followAlertsNats({ ...filters, json: Boolean(flags.json), nats });
      }
      const { followAlertsApi } = await import("./commands/alerts-follow.js");
      return followAlertsApi({
        ...apiOf(flags),
        ...filters,
        limit: flags.limit,
        pollMs: flags.poll,
        lookbackMs: flags.lookback,
      });
    });
  withTreeBounds(
    withApi(
      alerts
        .command("context <alert-id>")
        .description("an alert's process ancestry and what it and its descendants did around it"),
      "viewer",
      "print the API's JSON answer",
    ).option("--minutes <n>", "events this many minutes either side of the alert (default 5)", minutes),
  ).action((id: string, _flags, command: Command) => {
    // `alerts` parses the options both declare (--api, --token, --json) before its subcommand runs.
    const flags = command.optsWithGlobals();
    return showAlertContext({ ...apiOf(flags), ...treeBoundsOf(flags), minutes: flags.minutes }, id);
  });
}

/** "exec,connect" or a repeated option: every value. */
function collect(value: string, previous: string[] | undefined): string[] {
  return [
    ...(previous ?? []),
    ...value
      .split(",")
      .map((item) => item.trim())
      .filter(Boolean),
  ];
}

function portNumber(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0 || parsed > 65535)
    throw new InvalidArgumentError("must be a port from 0 to 65535");
  return parsed;
}

function count(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0) throw new InvalidArgumentError("must be 0 or more");
  return parsed;
}

function minutes(value: string): number {
  const parsed = Number(value);
  if (!Number.isFinite(parsed) || parsed <= 0) throw new InvalidArgumentError("must be a number above 0");
  return parsed;
}

/** The bounds of a process tree answer. */
function withTreeBounds(command: Command): Command {
  return command
    .option("--events-per-process <n>", "events shown per process (default 100, at most 500)", count)
    .option("--max-processes <n>", "processes in the tree (default 200, at most 500)", positive);
}

function treeBoundsOf(flags: Record<string, unknown>) {
  return {
    eventsPerProcess: flags.eventsPerProcess as number | undefined,
    maxProcesses: flags.maxProcesses as number | undefined,
  };
}

function addEvents(program: Command): void {
  const events = program
    .command("events")
    .description("search stored events; `events tree` for a process's ancestry and descendants");
  withApi(
    events
      .command("search", { isDefault: true })
      .description("events matching every filter: the newest N (oldest first), or --all"),
    "viewer",
  )
    .option("--host <name>", "host.name")
    .option("--host-id <id>", "host.id (the agent id)")
    .option("--since <time>", "at or after: ISO time, or 30s, 15m, 2h, 7d ago")
    .option("--until <time>", "before: ISO time, or 30s, 15m, 2h, 7d ago")
    .option(
      "--category <name>",
      "event.category: process, network, file, ... (repeat or comma separate)",
      collect,
    )
    .option(
      "--action <name>",
      "event.action: exec, connect, open-write, ... (repeat or comma separate)",
      collect,
    )
    .option("--executable <path>", "process.executable, exactly")
    .option("--entity-id <id>", "process.entity_id")
    .option("--pid <pid>", "process.pid", positive)
    .option("--user <name>", "user.name")
    .option("--dst-ip <ip>", "destination.ip")
    .option("--dst-port <port>", "destination.port", portNumber)
    .option("--path <prefix>", "file.path starts with this")
    .option("-q, --text <text>", "command line, file path or executable contains this (any case)")
    .option("-n, --limit <n>", "how many (the newest; default 50)", positive)
    .option("--cursor <cursor>", "the next (older) page of the same search, as the last one printed")
    .option("--all", "every matching event, oldest first, page after page", false)
    .option("--page-size <n>", "events per API request (default and most 1000)", positive)
    .action((flags) =>
      showEvents({
        ...apiOf(flags),
        host: flags.host,
        hostId: flags.hostId,
        since: flags.since ? parseTime(flags.since, "--since") : undefined,
        until: flags.until ? parseTime(flags.until, "--until") : undefined,
        categories: flags.category,
        actions: flags.action,
        executable: flags.executable,
        entityId: flags.entityId,
        pid: flags.pid,
        user: flags.user,
        dstIp: flags.dstIp,
        dstPort: flags.dstPort,
        path: flags.path,
        text: flags.text,
        limit: flags.limit,
        cursor: flags.cursor,
        all: flags.all,
        pageSize: flags.pageSize,
      }),
    );
  withTreeBounds(
    withApi(
      events
        .command("tree")
        .description(
          "a process's ancestors, itself and its descendants, each with its events, as an indented tree",
        ),
      "viewer",
      "print the API's JSON answer",
    )
      .requiredOption("--host-id <id>", "host.id (the agent id)")
      .option("--entity-id <id>", "the process's entity id")
      .option("--pid <pid>", "or its pid, at --at", positive)
      .option("--at <time>", "with --pid: the moment (ISO time, or 15m, 2h ago; default now)")
      .option("--since <time>", "only events at or after this (ISO time, or 15m, 2h, 7d ago)")
      .option("--until <time>", "only events before this (ISO time, or 15m, 2h, 7d ago)"),
  ).action((flags) =>
    showProcessTree({
      ...apiOf(flags),
      ...treeBoundsOf(flags),
      hostId: flags.hostId,
      entityId: flags.entityId,
      pid: flags.pid,
      at: flags.at ? parseTime(flags.at, "--at") : undefined,
      since: flags.since ? parseTime(flags.since, "--since") : undefined,
      until: flags.until ? parseTime(flags.until, "--until") : undefined,
    }),
  );
}

function addRules(program: Command): void {
  const rules = program
    .command("rules")
    .description("rules and ruleset versions (changes need role operator)");
  const command = (spec: string, description: string, role = "viewer") =>
    withApi(rules.command(spec).description(description), role);

  command("list", "rules in the current ruleset").action((flags) => listRules(apiOf(flags)));
  command("show <id>", "one rule's YAML and the versions that changed it").action((id: string, flags) =>
    showRule(apiOf(flags), id),
  );
  command(
    "push <paths...>",
    "make the server's rules match these files or directories (add new, replace changed)",
    "operator",
  )
    .option("--disabled", "add new rules disabled", false)
    .option("--dry-run", "only say what would change", false)
    .action(async (paths: string[], flags) => {
      const { pushRules } = await import("./commands/rules-push.js");
      await pushRules({ ...apiOf(flags), disabled: flags.disabled, dryRun: flags.dryRun }, paths);
    });
  command("add <file>", "add a Sigma rule (YAML file)", "operator").action((file: string, flags) =>
    addRule(apiOf(flags), file, true),
  );
  command("update <id> <file>", "replace a rule with a new YAML file", "operator").action(
    (id: string, file: string, flags) => updateRule(apiOf(flags), id, file),
  );
  command("enable <id>", "enable a rule", "operator").action((id: string, flags) =>
    setRuleEnabled(apiOf(flags), id, true),
  );
  command("disable <id>", "disable a rule (kept in the ruleset, not evaluated)", "operator").action(
    (id: string, flags) => setRuleEnabled(apiOf(flags), id, false),
  );
  command("delete <id>", "remove a rule", "operator").action((id: string, flags) =>
    deleteRule(apiOf(flags), id),
  );
  command(
    "test <path> [events]",
    "<dir>: run the directory's rule tests (<dir>/tests/*.yml) locally, PASS/FAIL per rule; <file> <events>: API dry run, which events (JSON lines of ECS documents) the rule fires on",
    "operator",
  ).action(async (path: string, events: string | undefined, flags) => {
    if (events !== undefined) return testRule(apiOf(flags), path, events);
    // Loaded on use: the hub's compiler stays out of the other commands' heap.
    const { testRulesDirectory } = await import("./commands/rules-test.js");
    await testRulesDirectory(path, { json: Boolean(flags.json) });
  });
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
  command("versions", "ruleset versions, newest first (* = current)").action((flags) =>
    listVersions(apiOf(flags)),
  );
  command("history [id]", "the versions that changed one rule; without an id, every ruleset version").action(
    (id: string | undefined, flags) =>
      id === undefined ? listVersions(apiOf(flags)) : ruleHistory(apiOf(flags), id),
  );
  command(
    "rollback <version>",
    "restore the rules of an earlier version as a new version",
    "operator",
  ).action((version: string, flags) => {
    const parsed = Number(version);
    if (!Number.isInteger(parsed) || parsed < 1)
      throw new InvalidArgumentError("version must be a positive integer");
    return rollbackRuleset(apiOf(flags), parsed);
  });
}

function addTokens(program: Command): void {
  const tokens = program.command("tokens").description("API tokens (admin role): create, list, revoke");
  withApi(tokens.command("create").description("create a token; prints it once (stdout)"), "admin")
    .requiredOption("--name <name>", "who or what holds it")
    .addOption(
      new Option("--role <role>", "what it may do")
        .choices(["viewer", "operator", "admin"])
        .makeOptionMandatory(),
    )
    .option("--ttl <seconds>", "expire after this many seconds (default: never)", positive)
    .action((flags) => createToken({ ...apiOf(flags), name: flags.name, role: flags.role, ttl: flags.ttl }));
  withApi(tokens.command("list").description("tokens without their secrets"), "admin").action((flags) =>
    listTokens(apiOf(flags)),
  );
  withApi(tokens.command("revoke <id>").description("revoke a token on every server"), "admin").action(
    (id: string, flags) => revokeToken(apiOf(flags), id),
  );
}

function addAgentConfig(program: Command): void {
  const config = program
    .command("config")
    .description(
      "agent config documents: fleet default, group:<name>, label:<k>=<v> (merged default < group < label)",
    );
  withApi(config.command("list").description("the documents"), "viewer").action((flags) =>
    listConfig(apiOf(flags)),
  );
  withApi(config.command("show <name>").description("one document"), "viewer").action((name: string, flags) =>
    showConfig(apiOf(flags), name),
  );
  withApi(
    config
      .command("set <name> <file>")
      .description("create or replace a document from a JSON file (- for stdin)"),
    "operator",
  ).action((name: string, file: string, flags) => setConfig(apiOf(flags), name, file));
  withApi(config.command("delete <name>").description("delete a document"), "operator").action(
    (name: string, flags) => deleteConfig(apiOf(flags), name),
  );
}

function addTasks(program: Command): void {
  const tasks = program.command("tasks").description("fleet tasks: process-list, kill-process, file-hash");
  withApi(
    tasks
      .command("run <kind> [params...]")
      .description("run a task (params as key=value) on an agent, a group, a label or the fleet"),
    "operator",
  )
    .option("--agent <id>", "one agent")
    .option("--group <name>", "agents in a group")
    .option("--label <k=v>", "agents carrying these labels (k=v[,k=v])")
    .option("--fleet", "every agent", false)
    .option("--ttl <seconds>", "deliver to agents that connect within this long (default 3600)", positive)
    .option(
      "--wait <seconds>",
      "wait this long for every agent's result and show them (exit 1 if one failed, 2 if not all answered)",
      positive,
    )
    .action((kind: string, params: string[], flags) =>
      runTask(
        {
          ...apiOf(flags),
          agent: flags.agent,
          group: flags.group,
          label: flags.label,
          fleet: flags.fleet,
          ttl: flags.ttl,
          wait: flags.wait,
        } satisfies RunTaskOptions,
        kind,
        params,
      ),
    );
  withApi(tasks.command("show <id>").description("a task and every agent's result"), "viewer").action(
    (id: string, flags) => showTask(apiOf(flags), id),
  );
  withApi(tasks.command("list").description("live tasks, newest first"), "viewer").action((flags) =>
    listTasks(apiOf(flags)),
  );
}

function addReports(program: Command): void {
  const reports = program
    .command("reports")
    .description("tiered reports (cell 15m, block 4h, daily, weekly, monthly) per host and for the fleet");
  const scoped = (command: Command) =>
    command
      .option("--scope <scope>", '"fleet" (default) or "host:<host.id>"')
      .option("--host-id <id>", "a host's report (same as --scope host:<id>)");
  scoped(
    withApi(
      reports.command("list", { isDefault: true }).description("stored reports, newest period first"),
      "viewer",
    ),
  )
    .option("--level <level>", "1-5 or cell, block, daily, weekly, monthly")
    .option("--since <time>", "periods starting at or after: ISO time, or 30s, 15m, 2h, 7d ago")
    .option("--until <time>", "periods starting before: ISO time, or 30s, 15m, 2h, 7d ago")
    .option("-n, --limit <n>", "how many (default 50)", positive)
    .action((flags) =>
      listReports({
        ...apiOf(flags),
        level: flags.level,
        scope: flags.scope,
        hostId: flags.hostId,
        since: flags.since ? parseTime(flags.since, "--since") : undefined,
        until: flags.until ? parseTime(flags.until, "--until") : undefined,
        limit: flags.limit,
      }),
    );
  scoped(
    withApi(
      reports
        .command("show <level> <time>")
        .description(
          "one report: the period of <level> holding <time> (e.g. daily 2026-02-03), with its AI analysis",
        ),
      "viewer",
      "print the API's JSON answer (report and analysis)",
    ),
  ).action((level: string, at: string, flags) =>
    showReport({ ...apiOf(flags), level, at, scope: flags.scope, hostId: flags.hostId }),
  );
  scoped(
    withApi(
      reports
        .command("generate <level> <time>")
        .description("generate (or regenerate) the period of <level> holding <time> now, for every scope"),
      "operator",
      "print the API's JSON answer",
    ),
  ).action((level: string, at: string, flags) =>
    generateReport({ ...apiOf(flags), level, at, scope: flags.scope, hostId: flags.hostId }),
  );
}

export function addOperatorCommands(program: Command): void {
  addAgents(program);
  addAlerts(program);
  addEvents(program);
  addReports(program);
  addRules(program);
  addTokens(program);
  addAgentConfig(program);
  addTasks(program);
  withApi(
    program
      .command("status")
      .description(
        "fleet health: servers, agents, bus, hubs, rules version, alert rate (exit 1 on a problem)",
      ),
    "viewer",
    "print the API's JSON answer with healthy",
  ).action((flags) => showStatus(apiOf(flags)));
  program
    .command("completion")
    .description("print a shell completion script (bash, zsh or fish)")
    .addArgument(new Argument("<shell>", "bash, zsh or fish").choices([...SHELLS]))
    .action((shell: Shell, _flags: unknown, command: Command) => {
      let root = command;
      while (root.parent) root = root.parent;
      process.stdout.write(completionScript(shell, commandTree(root)));
    });
}
