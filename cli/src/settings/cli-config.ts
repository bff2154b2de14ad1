import { readFileSync, statSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { parse } from "yaml";

// Where the CLI finds the API, its token and NATS: flags first, then the
// environment (VIGIL_API_URL, VIGIL_API_TOKEN, VIGIL_NATS_URL), then the
// file ~/.config/vigil/cli.yaml (VIGIL_CLI_CONFIG to point elsewhere). The
// file holds a secret, so one that others can read is refused, as ssh does.

export const DEFAULT_API_URL = "http://127.0.0.1:8080";
/** A config file is a few lines; anything bigger is not one. */
const MAX_CONFIG_BYTES = 64 * 1024;

export interface NatsSettings {
  servers: string[];
  token?: string;
  user?: string;
  password?: string;
  caFile?: string;
}

export interface CliConfigFile {
  api?: string;
  token?: string;
  nats?: NatsSettings;
}

/** What an API command talks to, and where its token came from (for error messages). */
export interface ApiTarget {
  api: string;
  token?: string;
  /** "--token", "VIGIL_API_TOKEN", the config file's path, or undefined when there is none. */
  tokenSource?: string;
  /** Where the URL came from, for "cannot reach" messages. */
  apiSource: string;
}

export function cliConfigPath(env: NodeJS.ProcessEnv = process.env): string {
  if (env.VIGIL_CLI_CONFIG) return env.VIGIL_CLI_CONFIG;
  const base = env.XDG_CONFIG_HOME || join(homedir(), ".config");
  return join(base, "vigil", "cli.yaml");
}

function string(value: unknown, key: string, path: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "string" || value === "")
    throw new Error(`${path}: ${key}: must be a non-empty string`);
  return value;
}

function unknownKeys(object: Record<string, unknown>, known: string[], prefix: string, path: string): void {
  for (const key of Object.keys(object)) {
    if (!known.includes(key)) {
      throw new Error(`${path}: ${prefix}${key}: unknown key (known: ${known.join(", ")})`);
    }
  }
}

function checkUrl(value: string | undefined, key: string, path: string): void {
  if (value === undefined) return;
  try {
    new URL(value);
  } catch {
    throw new Error(`${path}: ${key}: "${value}" is not a URL`);
  }
}

/** Reads and checks the config file; undefined when there is none. */
export function readCliConfig(path = cliConfigPath()): CliConfigFile | undefined {
  let stat: ReturnType<typeof statSync>;
  try {
    stat = statSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new Error(`${path}: cannot read (${(error as Error).message})`);
  }
  if (!stat.isFile()) throw new Error(`${path}: not a regular file`);
  if ((stat.mode & 0o077) !== 0) {
    throw new Error(
      `${path}: holds an API token but is readable by others (mode ${(stat.mode & 0o777).toString(8)}); run: chmod 600 ${path}`,
    );
  }
  if (stat.size > MAX_CONFIG_BYTES)
    throw new Error(`${path}: ${stat.size} bytes; a CLI config is at most 64 KiB`);
  let document: unknown;
  try {
    document = parse(readFileSync(path, "utf8"));
  } catch (error) {
    throw new Error(`${path}: not YAML (${(error as Error).message})`);
  }
  if (document === null || document === undefined) return {};
  if (typeof document !== "object" || Array.isArray(document)) throw new Error(`${path}: must be a mapping`);
  const raw = document as Record<string, unknown>;
  unknownKeys(raw, ["api", "token", "nats"], "", path);
  const config: CliConfigFile = {
    api: string(raw.api, "api", path),
    token: string(raw.token, "token", path),
  };
  checkUrl(config.api, "api", path);
  if (raw.nats !== undefined && raw.nats !== null) {
    if (typeof raw.nats !== "object" || Array.isArray(raw.nats))
      throw new Error(`${path}: nats: must be a mapping`);
    const nats = raw.nats as Record<string, unknown>;
    unknownKeys(nats, ["servers", "token", "user", "password", "caFile"], "nats.", path);
    const servers = typeof nats.servers === "string" ? [nats.servers] : nats.servers;
    if (!Array.isArray(servers) || servers.length === 0 || servers.some((s) => typeof s !== "string")) {
      throw new Error(`${path}: nats.servers: a URL or a list of URLs`);
    }
    for (const [index, server] of (servers as string[]).entries())
      checkUrl(server, `nats.servers[${index}]`, path);
    config.nats = {
      servers: servers as string[],
      token: string(nats.token, "nats.token", path),
      user: string(nats.user, "nats.user", path),
      password: string(nats.password, "nats.password", path),
      caFile: string(nats.caFile, "nats.caFile", path),
    };
  }
  return config;
}

/** Flags, then environment, then config file, then the default. */
export function resolveApiTarget(
  flags: { api?: string; token?: string },
  env: NodeJS.ProcessEnv = process.env,
  path = cliConfigPath(env),
): ApiTarget {
  // The file is read only when a flag or variable does not already settle both.
  const needFile = !(flags.api || env.VIGIL_API_URL) || !(flags.token || env.VIGIL_API_TOKEN);
  const file = needFile ? readCliConfig(path) : undefined;
  const [api, apiSource] = flags.api
    ? [flags.api, "--api"]
    : env.VIGIL_API_URL
      ? [env.VIGIL_API_URL, "VIGIL_API_URL"]
      : file?.api
        ? [file.api, path]
        : [DEFAULT_API_URL, "the default"];
  try {
    new URL(api);
  } catch {
    throw new Error(`${apiSource}: "${api}" is not a URL (e.g. https://vigil.example.com:8080)`);
  }
  const [token, tokenSource] = flags.token
    ? [flags.token, "--token"]
    : env.VIGIL_API_TOKEN
      ? [env.VIGIL_API_TOKEN, "VIGIL_API_TOKEN"]
      : file?.token
        ? [file.token, path]
        : [undefined, undefined];
  return { api, apiSource, token, tokenSource };
}

/** NATS for `vigil alerts --follow --nats`: the flag's URL (with the file's credentials), or the file's. */
export function resolveNats(
  flag: string | boolean | undefined,
  env: NodeJS.ProcessEnv = process.env,
  path = cliConfigPath(env),
): NatsSettings | undefined {
  if (flag === undefined || flag === false) return undefined;
  const file = readCliConfig(path)?.nats;
  const url = typeof flag === "string" ? flag : env.VIGIL_NATS_URL;
  if (url) {
    checkUrl(url, "--nats", "--nats");
    return { ...file, servers: [url] };
  }
  if (!file)
    throw new Error(`--nats: give a URL (--nats nats://host:4222), VIGIL_NATS_URL or nats: in ${path}`);
  return file;
}
