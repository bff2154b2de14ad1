import { readFileSync } from "node:fs";
import YAML from "yaml";
import type { z } from "zod";
import { ErrorCodes, VigilError } from "../errors";

export interface LoadConfigOptions {
  /** Path of a YAML/JSON config file; absent means defaults + environment only. */
  file?: string;
  /** Read only this top-level key of the file (embedded mode keeps server/hub/agent in one file). */
  section?: string;
  /** Environment to read (process.env by default). */
  env?: NodeJS.ProcessEnv;
  /** Prefix of environment overrides, e.g. "VIGIL_SERVER_". */
  envPrefix: string;
  /** Extra values that win over file and environment (command-line flags). */
  overrides?: Record<string, unknown>;
}

/**
 * Builds a program's configuration from defaults (in the schema), a file, then
 * environment variables. An environment variable maps onto a dotted key:
 * VIGIL_SERVER_GRPC__PORT=7443 sets grpc.port ("__" separates levels, "_"
 * inside a level becomes camelCase). Throws VIGIL_ERR_CONFIG_INVALID naming
 * every bad key.
 */
export function loadConfig<S extends z.ZodType>(schema: S, options: LoadConfigOptions): z.infer<S> {
  const wholeFile = options.file ? readConfigFile(options.file) : {};
  const fromFile = options.section ? sectionOf(wholeFile, options.section, options.file ?? "") : wholeFile;
  const fromEnv = readEnvironment(options.env ?? process.env, options.envPrefix);
  const merged = deepMerge(deepMerge(fromFile, fromEnv), options.overrides ?? {});
  const parsed = schema.safeParse(merged);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const key = issue.path.join(".") || "(root)";
      return `${key}: ${issue.message}`;
    });
    const source = options.file
      ? ` (file ${options.file}, env ${options.envPrefix}*)`
      : ` (env ${options.envPrefix}*)`;
    throw new VigilError(ErrorCodes.CONFIG_INVALID, `invalid configuration${source}: ${problems.join("; ")}`);
  }
  return parsed.data;
}

function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (cause) {
    throw new VigilError(ErrorCodes.CONFIG_FILE, `cannot read config file ${path}`, { cause });
  }
  let value: unknown;
  try {
    value = YAML.parse(text);
  } catch (cause) {
    throw new VigilError(
      ErrorCodes.CONFIG_FILE,
      `config file ${path} is not valid YAML/JSON: ${String(cause)}`,
      {
        cause,
      },
    );
  }
  if (value === null || value === undefined) return {};
  if (typeof value !== "object" || Array.isArray(value)) {
    throw new VigilError(ErrorCodes.CONFIG_FILE, `config file ${path} must hold a mapping at the top level`);
  }
  return value as Record<string, unknown>;
}

function sectionOf(file: Record<string, unknown>, section: string, path: string): Record<string, unknown> {
  const value = file[section];
  if (value === undefined || value === null) return {};
  if (!isPlainObject(value)) {
    throw new VigilError(ErrorCodes.CONFIG_INVALID, `${section}: must be a mapping in config file ${path}`);
  }
  return value;
}

function readEnvironment(env: NodeJS.ProcessEnv, prefix: string): Record<string, unknown> {
  const result: Record<string, unknown> = {};
  for (const [name, raw] of Object.entries(env)) {
    if (!name.startsWith(prefix) || raw === undefined) continue;
    const path = name
      .slice(prefix.length)
      .split("__")
      .map((part) => part.toLowerCase().replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase()));
    let cursor = result;
    for (const segment of path.slice(0, -1)) {
      const next = cursor[segment];
      cursor[segment] = typeof next === "object" && next !== null ? next : {};
      cursor = cursor[segment] as Record<string, unknown>;
    }
    cursor[path[path.length - 1]] = parseEnvValue(raw);
  }
  return result;
}

/** Environment values are strings; lists are comma-separated, JSON is accepted. */
function parseEnvValue(raw: string): unknown {
  const trimmed = raw.trim();
  if (trimmed.startsWith("[") || trimmed.startsWith("{")) {
    try {
      return JSON.parse(trimmed);
    } catch {
      return raw;
    }
  }
  return raw;
}

function deepMerge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(over)) {
    const existing = out[key];
    if (isPlainObject(existing) && isPlainObject(value)) out[key] = deepMerge(existing, value);
    else out[key] = value;
  }
  return out;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
