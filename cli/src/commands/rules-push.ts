import { readFileSync, statSync } from "node:fs";
import { listRuleFiles } from "@vigil/hub";
import { parseAllDocuments } from "yaml";
import { renderTable } from "../output/table";
import { ApiError, type ApiOptions } from "./api-client";
import { type RulesApiOptions, ruleCall } from "./rules";

// `vigil rules push <file|dir>...`: makes the server's rules match the files.
// A rule whose id the server does not have is added, one whose YAML differs
// is replaced, an identical one is left alone (no new version). Base rules go
// before correlation files, so a correlation finds the rules it counts. The
// server validates each change with the hub's compiler; the first refusal
// stops the push and names the file, line and column (what was pushed before
// it stays, each change its own ruleset version, so `vigil rules rollback`
// undoes a push).

export interface RulesPushOptions extends RulesApiOptions {
  /** Add new rules disabled. */
  disabled: boolean;
  /** Say what would change without changing anything. */
  dryRun: boolean;
}

export interface PushOutcome {
  file: string;
  ruleId: string;
  action: "added" | "updated" | "unchanged" | "would add" | "would update";
  version?: number;
}

interface RuleFile {
  file: string;
  yaml: string;
  id: string;
  correlation: boolean;
}

function expand(path: string): string[] {
  let directory: boolean;
  try {
    directory = statSync(path).isDirectory();
  } catch (error) {
    throw new Error(`cannot read ${path}: ${(error as Error).message}`);
  }
  if (!directory) return [path];
  const files = listRuleFiles(path);
  if (files.length === 0) throw new Error(`${path}: no rule files (*.yml, *.yaml; tests/ is skipped)`);
  return files;
}

/** A file's rule id: a correlation file is stored under the correlation's id, as the server does. */
function readRuleFile(file: string): RuleFile {
  let yaml: string;
  try {
    yaml = readFileSync(file, "utf8");
  } catch (error) {
    throw new Error(`cannot read ${file}: ${(error as Error).message}`);
  }
  const documents = parseAllDocuments(yaml);
  const bodies = (Array.isArray(documents) ? documents : [documents]).map((document) => {
    if (document.errors.length > 0) {
      const [error] = document.errors;
      const where = error.linePos?.[0];
      throw new Error(
        `${file}${where ? `:${where.line}:${where.col}` : ""}: ${error.message.split("\n")[0]}`,
      );
    }
    return document.toJS() as Record<string, unknown> | null;
  });
  const correlation = bodies.find((body) => body && typeof body === "object" && "correlation" in body);
  const main = correlation ?? bodies.find((body) => body && typeof body === "object");
  const id = main?.id;
  if (typeof id !== "string" || id === "")
    throw new Error(`${file}: the rule has no id (Sigma rules need one)`);
  return { file, yaml, id, correlation: correlation !== undefined };
}

async function storedYaml(options: ApiOptions, id: string): Promise<string | undefined> {
  try {
    const rule = await ruleCall<{ yaml: string }>(options, "GET", `/api/v1/rules/${encodeURIComponent(id)}`);
    return rule.yaml;
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) return undefined;
    throw error;
  }
}

export async function pushRules(options: RulesPushOptions, paths: string[]): Promise<PushOutcome[]> {
  const files = paths.flatMap(expand).map(readRuleFile);
  const ids = new Map<string, string>();
  for (const rule of files) {
    const other = ids.get(rule.id);
    if (other !== undefined) throw new Error(`${rule.file}: rule id ${rule.id} is also the id in ${other}`);
    ids.set(rule.id, rule.file);
  }
  const ordered = [...files.filter((f) => !f.correlation), ...files.filter((f) => f.correlation)];
  const outcomes: PushOutcome[] = [];
  const report = () => {
    if (options.json) for (const outcome of outcomes) process.stdout.write(`${JSON.stringify(outcome)}\n`);
    else if (outcomes.length > 0) {
      process.stdout.write(
        renderTable(outcomes, [
          { header: "FILE", value: (o) => o.file, shrink: true },
          { header: "RULE", value: (o) => o.ruleId },
          { header: "ACTION", value: (o) => o.action },
          {
            header: "VERSION",
            value: (o) => (o.version === undefined ? "-" : String(o.version)),
            align: "right",
          },
        ]),
      );
    }
  };
  try {
    for (const rule of ordered) {
      const stored = await storedYaml(options, rule.id);
      if (stored === rule.yaml) {
        outcomes.push({ file: rule.file, ruleId: rule.id, action: "unchanged" });
      } else if (options.dryRun) {
        outcomes.push({
          file: rule.file,
          ruleId: rule.id,
          action: stored === undefined ? "would add" : "would update",
        });
      } else if (stored === undefined) {
        const { version } = await ruleCall<{ version: number }>(
          options,
          "POST",
          "/api/v1/rules",
          { yaml: rule.yaml, enabled: !options.disabled },
          rule.file,
        );
        outcomes.push({ file: rule.file, ruleId: rule.id, action: "added", version });
      } else {
        const { version } = await ruleCall<{ version: number }>(
          options,
          "PUT",
          `/api/v1/rules/${encodeURIComponent(rule.id)}`,
          { yaml: rule.yaml },
          rule.file,
        );
        outcomes.push({ file: rule.file, ruleId: rule.id, action: "updated", version });
      }
    }
  } finally {
    // What was pushed before a refusal is reported too: those versions exist.
    report();
  }
  if (!options.json) {
    const changed = outcomes.filter((o) => o.action !== "unchanged").length;
    process.stderr.write(
      `${changed} of ${outcomes.length} rules ${options.dryRun ? "would change" : "changed"}${options.dryRun ? " (dry run)" : ""}\n`,
    );
  }
  return outcomes;
}
