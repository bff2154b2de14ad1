import { statSync } from "node:fs";
import { type RuleTestReport, RuleTestRunner } from "@vigil/hub";

// `vigil rules test <dir>`: runs a rules directory's tests (<dir>/tests/*.yml)
// locally, with the hub's compiler and correlation engine, and prints one
// PASS / FAIL line per rule. Exit code 1 when a rule does not load, a test
// file is broken or a case fails.

export interface RulesTestOptions {
  json: boolean;
}

function out(line: string): void {
  process.stdout.write(`${line}\n`);
}

function counts(result: RuleTestReport["results"][number]): string {
  const by = new Map<string, number>();
  for (const c of result.cases) by.set(c.expect, (by.get(c.expect) ?? 0) + 1);
  return [...by.entries()].map(([kind, n]) => `${n} ${kind}`).join(", ");
}

function print(report: RuleTestReport, dir: string): void {
  if (report.noTestsDirectory) out(`${dir}: no tests directory (${dir}/tests/<rule-file>.yml)`);
  for (const result of report.results) {
    const title = result.title === undefined ? "" : `  ${result.title}`;
    const what = result.problems.length === 0 ? ` (${counts(result)})` : "";
    out(`${result.ok ? "PASS" : "FAIL"}  ${result.file}${title}${what}`);
    for (const problem of result.problems) out(`      ${problem}`);
    for (const c of result.cases) if (!c.ok) out(`      ${c.expect} "${c.name}": ${c.detail}`);
  }
  for (const rule of report.untested) out(`UNTESTED  ${rule.source}  ${rule.title} (${rule.id})`);
  if (report.loadErrors.length > 0) {
    out("rules that did not load:");
    for (const error of report.loadErrors) out(`  ${error}`);
  }
  const failedFiles = report.results.filter((r) => !r.ok).length;
  out(
    `${report.results.length} test files, ${report.passed + report.failed} cases: ${report.passed} passed, ${report.failed} failed` +
      `${failedFiles > 0 ? `; ${failedFiles} rules FAIL` : ""}` +
      `${report.loadErrors.length > 0 ? `; ${report.loadErrors.length} rules did not load` : ""}` +
      `${report.untested.length > 0 ? `; ${report.untested.length} rules without tests` : ""}`,
  );
}

/** Runs the tests and sets process.exitCode to 1 when anything failed. */
export async function testRulesDirectory(dir: string, options: RulesTestOptions): Promise<RuleTestReport> {
  let isDirectory = false;
  try {
    isDirectory = statSync(dir).isDirectory();
  } catch (error) {
    throw new Error(`cannot read ${dir}: ${(error as Error).message}`);
  }
  if (!isDirectory)
    throw new Error(
      `${dir} is not a directory (vigil rules test <rules-dir>; a dry run of one rule takes <file> <events>)`,
    );
  const report = await RuleTestRunner.load(dir).run();
  if (options.json) out(JSON.stringify(report));
  else print(report, dir);
  if (!report.ok) process.exitCode = 1;
  return report;
}
