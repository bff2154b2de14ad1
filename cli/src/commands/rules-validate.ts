import { readFileSync, statSync } from "node:fs";
import { compileRuleSources, listRuleFiles, MAX_RULE_BYTES, type RuleSource } from "@vigil/hub";
import { locateProblem } from "@vigil/server";
import { type Document, LineCounter, parseAllDocuments } from "yaml";

// `vigil rules validate <path...>`: checks rule files (or every rule file of
// a directory) with the hub's own compiler, offline, and prints each problem
// as file:line:column: message. Files given together are compiled together,
// so a correlation and the base rules it names can be checked as a set;
// --rules <dir> adds a directory for references only (its own problems are
// not reported).

export interface RulesValidateOptions {
  rules?: string;
  json: boolean;
}

export interface ValidationProblem {
  file: string;
  line?: number;
  column?: number;
  message: string;
}

/** YAML syntax problems reported per file; the author fixes them in order. */
const MAX_SYNTAX_PROBLEMS = 10;

function out(line: string): void {
  process.stdout.write(`${line}\n`);
}

function expand(path: string): string[] {
  let isDirectory: boolean;
  try {
    isDirectory = statSync(path).isDirectory();
  } catch (error) {
    throw new Error(`cannot read ${path}: ${(error as Error).message}`);
  }
  return isDirectory ? listRuleFiles(path) : [path];
}

interface ParsedFile {
  file: string;
  text: string;
  documents: Document[];
  lineCounter: LineCounter;
}

function parseFile(file: string, problems: ValidationProblem[]): ParsedFile | undefined {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    problems.push({ file, message: `cannot read: ${(error as Error).message}` });
    return undefined;
  }
  if (Buffer.byteLength(text, "utf8") > MAX_RULE_BYTES * 4) {
    problems.push({ file, message: `larger than ${MAX_RULE_BYTES * 4} bytes` });
    return undefined;
  }
  const lineCounter = new LineCounter();
  const documents = parseAllDocuments(text, { lineCounter, uniqueKeys: true });
  const list = Array.isArray(documents) ? documents : [documents];
  const syntax = list.flatMap((document) =>
    document.errors.map((error) => ({
      file,
      line: error.linePos?.[0]?.line,
      column: error.linePos?.[0]?.col,
      message: `invalid YAML: ${error.message.split("\n")[0].replace(/ at line \d+, column \d+:?$/, "")}`,
    })),
  );
  if (syntax.length > 0) {
    problems.push(...syntax.slice(0, MAX_SYNTAX_PROBLEMS));
    return undefined;
  }
  return { file, text, documents: list, lineCounter };
}

/** "<file>: rule <id>: <what>" from the compiler → the document with that id and where in it <what> points. */
function locate(parsed: ParsedFile, message: string): ValidationProblem {
  const prefix = `${parsed.file}: rule `;
  const rest = message.startsWith(prefix) ? message.slice(prefix.length) : message;
  const separator = rest.indexOf(": ");
  const id = separator < 0 ? "" : rest.slice(0, separator);
  const what = separator < 0 ? rest : rest.slice(separator + 2);
  const document =
    parsed.documents.find((doc) => (doc.toJS() as { id?: unknown } | null)?.id === id) ??
    (parsed.documents.length === 1 ? parsed.documents[0] : undefined);
  const position = document === undefined ? undefined : locateProblem(document, parsed.lineCounter, what);
  return { file: parsed.file, line: position?.line, column: position?.column, message: what };
}

/** Every problem of the given files; empty when they all compile. */
export function validateRuleFiles(paths: string[], contextDir?: string): ValidationProblem[] {
  const problems: ValidationProblem[] = [];
  const files = [...new Set(paths.flatMap(expand))];
  if (files.length === 0) throw new Error(`no rule files (*.yml, *.yaml) in ${paths.join(", ")}`);
  const parsed = files.map((file) => parseFile(file, problems)).filter((p) => p !== undefined);
  const checked = new Set(parsed.map((p) => p.file));
  const context: RuleSource[] = [];
  if (contextDir !== undefined) {
    for (const file of expand(contextDir)) {
      if (files.includes(file)) continue;
      try {
        context.push({ source: file, text: readFileSync(file, "utf8") });
      } catch {
        // A context file that cannot be read only matters if a checked rule refers to it.
      }
    }
  }
  const compiled = compileRuleSources([
    ...parsed.map(({ file, text }) => ({ source: file, text })),
    ...context,
  ]);
  for (const error of compiled.errors) {
    const owner = parsed.find((p) => error.message.startsWith(`${p.file}: `));
    if (owner !== undefined && checked.has(owner.file)) problems.push(locate(owner, error.message));
  }
  return problems;
}

function format(problem: ValidationProblem): string {
  const where = problem.line === undefined ? "" : `:${problem.line}:${problem.column ?? 1}`;
  return `${problem.file}${where}: ${problem.message}`;
}

/** Prints the problems (or "ok") and sets process.exitCode to 1 when there are any. */
export function validateRules(paths: string[], options: RulesValidateOptions): ValidationProblem[] {
  const problems = validateRuleFiles(paths, options.rules);
  if (options.json) out(JSON.stringify({ valid: problems.length === 0, problems }));
  else if (problems.length === 0) out(`${paths.join(", ")}: ok`);
  else for (const problem of problems) out(format(problem));
  if (problems.length > 0) process.exitCode = 1;
  return problems;
}
