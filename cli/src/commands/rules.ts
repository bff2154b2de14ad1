import { readFileSync } from "node:fs";
import { relativeTime, renderTable, shortTime } from "../output/table";
import { ApiError, apiRequest } from "./api-client";

// `vigil rules ...`: rules and ruleset versions through the REST API.

export interface RulesApiOptions {
  api: string;
  token?: string;
  json: boolean;
  tokenSource?: string;
  apiSource?: string;
}

interface RuleProblem {
  line?: number;
  column?: number;
  message: string;
}

interface RuleSummary {
  id: string;
  title: string;
  level: string;
  enabled: boolean;
}

interface VersionSummary {
  version: number;
  change: {
    action: string;
    ruleId?: string;
    restoredVersion?: number;
    actor: { name: string };
    time: string;
  };
  rules: number;
  enabled: number;
}

/** Sample events one dry run may carry (the API's limit). */
const MAX_TEST_EVENTS = 1000;

function out(line: string): void {
  process.stdout.write(`${line}\n`);
}

/** Calls the API; a refusal becomes an Error naming the status and, for a bad rule, each problem with its line. */
export async function ruleCall<T>(
  options: RulesApiOptions,
  method: string,
  path: string,
  body?: unknown,
  file?: string,
): Promise<T> {
  try {
    return await apiRequest<T>(options, method, path, body);
  } catch (error) {
    const problems =
      error instanceof ApiError ? (error.answer.problems as RuleProblem[] | undefined) : undefined;
    if (error instanceof ApiError && problems && problems.length > 0) {
      const where = file ?? "rule";
      const lines = problems.map(
        (problem) =>
          `  ${where}${problem.line === undefined ? "" : `:${problem.line}:${problem.column ?? 1}`}: ${problem.message}`,
      );
      throw new Error(`API ${error.status}: rule refused\n${lines.join("\n")}`);
    }
    throw error;
  }
}

function readRuleFile(file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch (error) {
    throw new Error(`cannot read ${file}: ${(error as Error).message}`);
  }
}

/** JSON lines of ECS documents; a bad line is named by file and line number. */
function readEvents(file: string): unknown[] {
  const events: unknown[] = [];
  const lines = readRuleFile(file).split("\n");
  for (const [index, line] of lines.entries()) {
    if (line.trim() === "") continue;
    let event: unknown;
    try {
      event = JSON.parse(line);
    } catch (error) {
      throw new Error(`${file}:${index + 1}: not JSON (${(error as Error).message})`);
    }
    if (typeof event !== "object" || event === null || Array.isArray(event)) {
      throw new Error(`${file}:${index + 1}: an event must be a JSON object`);
    }
    events.push(event);
  }
  if (events.length > MAX_TEST_EVENTS) {
    throw new Error(`${file}: ${events.length} events; a test takes at most ${MAX_TEST_EVENTS}`);
  }
  return events;
}

function printRuleChange(
  options: RulesApiOptions,
  result: { version: number; rule?: RuleSummary },
  verb: string,
): void {
  if (options.json) {
    out(JSON.stringify(result));
    return;
  }
  const what = result.rule ? `rule ${result.rule.id} (${result.rule.title})` : "rule";
  out(`${what} ${verb}: ruleset version ${result.version}`);
}

export async function listRules(options: RulesApiOptions): Promise<void> {
  const body = await ruleCall<{ version: number; rules: RuleSummary[] }>(options, "GET", "/api/v1/rules");
  if (options.json) return out(JSON.stringify(body));
  out(`ruleset version ${body.version}, ${body.rules.length} rules`);
  process.stdout.write(
    renderTable(body.rules, [
      { header: "ID", value: (rule) => rule.id },
      { header: "STATE", value: (rule) => (rule.enabled ? "enabled" : "disabled") },
      { header: "LEVEL", value: (rule) => rule.level },
      { header: "TITLE", value: (rule) => rule.title, shrink: true },
    ]),
  );
}

export async function showRule(options: RulesApiOptions, id: string): Promise<void> {
  const rule = await ruleCall<
    RuleSummary & { yaml: string; rulesetVersion: number; history: VersionSummary[] }
  >(options, "GET", `/api/v1/rules/${encodeURIComponent(id)}`);
  if (options.json) return out(JSON.stringify(rule));
  out(`# ${rule.id} (${rule.enabled ? "enabled" : "disabled"}) in ruleset version ${rule.rulesetVersion}`);
  for (const entry of rule.history) {
    out(
      `#   version ${entry.version}: ${entry.change.action} by ${entry.change.actor.name} at ${entry.change.time}`,
    );
  }
  process.stdout.write(rule.yaml.endsWith("\n") ? rule.yaml : `${rule.yaml}\n`);
}

export async function addRule(options: RulesApiOptions, file: string, enabled: boolean): Promise<void> {
  const result = await ruleCall<{ version: number; rule: RuleSummary }>(
    options,
    "POST",
    "/api/v1/rules",
    { yaml: readRuleFile(file), enabled },
    file,
  );
  printRuleChange(options, result, "added");
}

export async function updateRule(options: RulesApiOptions, id: string, file: string): Promise<void> {
  const result = await ruleCall<{ version: number; rule: RuleSummary }>(
    options,
    "PUT",
    `/api/v1/rules/${encodeURIComponent(id)}`,
    { yaml: readRuleFile(file) },
    file,
  );
  printRuleChange(options, result, "updated");
}

export async function setRuleEnabled(options: RulesApiOptions, id: string, enabled: boolean): Promise<void> {
  const verb = enabled ? "enable" : "disable";
  const result = await ruleCall<{ version: number; rule: RuleSummary }>(
    options,
    "POST",
    `/api/v1/rules/${encodeURIComponent(id)}/${verb}`,
  );
  printRuleChange(options, result, `${verb}d`);
}

export async function deleteRule(options: RulesApiOptions, id: string): Promise<void> {
  const result = await ruleCall<{ version: number }>(
    options,
    "DELETE",
    `/api/v1/rules/${encodeURIComponent(id)}`,
  );
  if (options.json) return out(JSON.stringify(result));
  out(`rule ${id} deleted: ruleset version ${result.version}`);
}

/** Dry run: validates the rule and shows which sample events it fires on. Exits 1 when the rule is invalid. */
export async function testRule(options: RulesApiOptions, file: string, eventsFile: string): Promise<void> {
  const result = await ruleCall<{
    valid: boolean;
    problems: RuleProblem[];
    rule?: { id: string; title: string };
    matched: number[];
    results: { index: number; matched: boolean }[];
  }>(options, "POST", "/api/v1/rules/dry-run", { yaml: readRuleFile(file), events: readEvents(eventsFile) });
  if (options.json) out(JSON.stringify(result));
  else if (!result.valid) {
    for (const problem of result.problems) {
      out(
        `${file}${problem.line === undefined ? "" : `:${problem.line}:${problem.column ?? 1}`}: ${problem.message}`,
      );
    }
  } else {
    out(`${result.rule?.title}: fires on ${result.matched.length} of ${result.results.length} events`);
    for (const entry of result.results)
      out(`  event ${entry.index + 1}: ${entry.matched ? "MATCH" : "no match"}`);
  }
  if (!result.valid) process.exitCode = 1;
}

const VERSION_COLUMNS = (current: number) => [
  {
    header: "VERSION",
    value: (v: VersionSummary) => `${v.version === current ? "*" : " "}${v.version}`,
    align: "right" as const,
  },
  { header: "TIME", value: (v: VersionSummary) => shortTime(v.change.time) },
  { header: "AGE", value: (v: VersionSummary) => relativeTime(v.change.time) },
  { header: "CHANGE", value: (v: VersionSummary) => v.change.action },
  {
    header: "WHAT",
    value: (v: VersionSummary) =>
      v.change.ruleId ?? (v.change.restoredVersion ? `restores version ${v.change.restoredVersion}` : "-"),
    shrink: true,
  },
  { header: "ENABLED", value: (v: VersionSummary) => `${v.enabled}/${v.rules}`, align: "right" as const },
  { header: "BY", value: (v: VersionSummary) => v.change.actor.name, shrink: true },
];

/** `vigil rules versions` (also `vigil rules history`): ruleset versions, newest first, * = current. */
export async function listVersions(options: RulesApiOptions): Promise<void> {
  const body = await ruleCall<{ current: number; versions: VersionSummary[] }>(
    options,
    "GET",
    "/api/v1/rulesets",
  );
  if (options.json) return out(JSON.stringify(body));
  process.stdout.write(renderTable(body.versions, VERSION_COLUMNS(body.current)));
}

/** `vigil rules history <id>`: the ruleset versions that changed one rule, newest first. */
export async function ruleHistory(options: RulesApiOptions, id: string): Promise<void> {
  const rule = await ruleCall<{ rulesetVersion: number; history: VersionSummary[] }>(
    options,
    "GET",
    `/api/v1/rules/${encodeURIComponent(id)}`,
  );
  if (options.json) return out(JSON.stringify({ id, current: rule.rulesetVersion, history: rule.history }));
  const columns = VERSION_COLUMNS(rule.rulesetVersion).filter((column) => column.header !== "ENABLED");
  process.stdout.write(renderTable(rule.history, columns));
}

export async function rollbackRuleset(options: RulesApiOptions, version: number): Promise<void> {
  const result = await ruleCall<{ version: number; restoredVersion: number }>(
    options,
    "POST",
    `/api/v1/rulesets/${version}/rollback`,
  );
  if (options.json) return out(JSON.stringify(result));
  out(`rules of version ${result.restoredVersion} restored as ruleset version ${result.version}`);
}
