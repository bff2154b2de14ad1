import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { freeLoopbackPort, type NatsServerHandle, startNatsServer } from "../harness/nats-server";

// Distributed mode exactly as an operator runs it (deploy/README.md): a real
// nats-server, then the built CLI as three separate processes — `vigil server`,
// `vigil hub`, `vigil agent` — configured only through VIGIL_* environment
// variables, and `vigil alerts` / `vigil agents` reading the server's API. The
// replayed reverse-shell scenario must come out as exactly its expected
// alerts, and every process must stop cleanly (exit 0) on SIGTERM.

const execFileAsync = promisify(execFile);
const ROOT = join(__dirname, "..", "..");
const CLI = join(ROOT, "cli", "dist", "main.js");
const SCENARIO = join(__dirname, "scenarios", "reverse-shell.jsonl");
const EXPECTED = join(__dirname, "scenarios", "reverse-shell.expected.json");
const AGENT_TOKEN = "distributed-cli-agent-token-0123456789";
const NATS_TOKEN = "distributed-cli-nats-token-0123456789";
const READY_TIMEOUT_MS = 20_000;
const STOP_TIMEOUT_MS = 8_000;
const OUTPUT_LIMIT = 256 * 1024;

interface VigilProcess {
  name: string;
  child: ChildProcess;
  /** stdout + stderr so far (the last OUTPUT_LIMIT characters). */
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const children: VigilProcess[] = [];

/** The environment of the test run minus any VIGIL_* of the developer's own. */
function baseEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) if (!name.startsWith("VIGIL_")) env[name] = value;
  return env;
}

function spawnVigil(name: string, args: string[], env: Record<string, string>): VigilProcess {
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd: ROOT,
    env: { ...baseEnv(), ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const collect = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-OUTPUT_LIMIT);
  };
  child.stdout?.on("data", collect);
  child.stderr?.on("data", collect);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once("exit", (code, signal) => resolve({ code, signal }));
    child.once("error", () => resolve({ code: null, signal: null }));
  });
  const handle = { name, child, output: () => output, exited };
  children.push(handle);
  return handle;
}

function isRunning(handle: VigilProcess): boolean {
  return handle.child.exitCode === null && handle.child.signalCode === null;
}

async function waitFor(
  condition: () => Promise<boolean> | boolean,
  what: string,
  ...watched: VigilProcess[]
) {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    for (const handle of watched) {
      if (!isRunning(handle)) {
        throw new Error(
          `vigil ${handle.name} exited (${handle.child.exitCode}) while waiting for ${what}:\n${handle.output()}`,
        );
      }
    }
    if (await condition()) return;
    if (Date.now() > deadline) {
      const logs = watched.map((handle) => `--- vigil ${handle.name}:\n${handle.output()}`).join("\n");
      throw new Error(`timed out after ${READY_TIMEOUT_MS} ms waiting for ${what}\n${logs}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function httpOk(url: string): Promise<boolean> {
  try {
    return (await fetch(url, { signal: AbortSignal.timeout(2000) })).ok;
  } catch {
    return false;
  }
}

/** `vigil <command> --api ... --json`, one JSON document per line. */
async function cliJson(command: "alerts" | "agents", api: string): Promise<Array<Record<string, unknown>>> {
  const { stdout } = await execFileAsync(process.execPath, [CLI, command, "--api", api, "--json"], {
    cwd: ROOT,
    env: baseEnv(),
    timeout: 10_000,
  });
  return stdout
    .split("\n")
    .filter((line) => line.trim())
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

function alertKey(alert: Record<string, unknown>): string {
  const pid = (alert.process as { pid?: number } | undefined)?.pid;
  const rule = (alert.rule as { id?: string } | undefined)?.id;
  return `${pid} ${rule}`;
}

async function stop(handle: VigilProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  handle.child.kill("SIGTERM");
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new Error(
            `vigil ${handle.name} still running ${STOP_TIMEOUT_MS} ms after SIGTERM:\n${handle.output()}`,
          ),
        ),
      STOP_TIMEOUT_MS,
    );
  });
  try {
    return await Promise.race([handle.exited, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

describe("distributed mode - the CLI's server, hub and agent processes joined by NATS", () => {
  let nats: NatsServerHandle;
  let workDir: string;
  let grpcPort: number;
  let apiPort: number;
  let api: string;
  let server: VigilProcess;
  let hub: VigilProcess;
  let agent: VigilProcess;

  beforeAll(async () => {
    if (!existsSync(CLI)) {
      throw new Error(`${CLI} is missing: run \`npm run build\` first (\`npm test\` builds before jest)`);
    }
    workDir = mkdtempSync(join(tmpdir(), "vigil-distributed-"));
    nats = await startNatsServer({ args: ["--auth", NATS_TOKEN] });
    grpcPort = await freeLoopbackPort();
    apiPort = await freeLoopbackPort();
    api = `http://127.0.0.1:${apiPort}`;
  });

  afterAll(async () => {
    // Whatever happened above: no process outlives the test.
    for (const handle of children) if (isRunning(handle)) handle.child.kill("SIGKILL");
    await Promise.all(children.map((handle) => handle.exited));
    await nats?.stop();
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  });

  test("distributed-cli - server, hub and agent produce exactly the scenario's alerts", async () => {
    const alertStorePath = join(workDir, "alerts.db");
    server = spawnVigil("server", ["server"], {
      VIGIL_SERVER_NATS__SERVERS: nats.url,
      VIGIL_SERVER_NATS__TOKEN: NATS_TOKEN,
      VIGIL_SERVER_GRPC__PORT: String(grpcPort),
      VIGIL_SERVER_GRPC__AGENT_TOKEN: AGENT_TOKEN,
      VIGIL_SERVER_API__PORT: String(apiPort),
      VIGIL_SERVER_ALERT_STORE_PATH: alertStorePath,
    });
    hub = spawnVigil("hub", ["hub"], {
      VIGIL_HUB_NATS__SERVERS: nats.url,
      VIGIL_HUB_NATS__TOKEN: NATS_TOKEN,
      VIGIL_HUB_ALERT_STORE_PATH: alertStorePath,
    });
    await waitFor(() => httpOk(`${api}/healthz`), "the server's /healthz", server, hub);
    await waitFor(() => hub.output().includes('"msg":"hub consuming"'), "the hub to consume", server, hub);

    agent = spawnVigil("agent", ["agent"], {
      VIGIL_AGENT_SERVERS: `127.0.0.1:${grpcPort}`,
      VIGIL_AGENT_TOKEN: AGENT_TOKEN,
      VIGIL_AGENT_COLLECTORS: "replay",
      VIGIL_AGENT_REPLAY__FILES: SCENARIO,
      VIGIL_AGENT_STATE_DIR: join(workDir, "agent-state"),
    });

    const expected = (JSON.parse(readFileSync(EXPECTED, "utf8")) as Array<{ pid: number; rule: string }>)
      .map((alert) => `${alert.pid} ${alert.rule}`)
      .sort();
    await waitFor(
      async () => (await cliJson("alerts", api)).length >= expected.length,
      `${expected.length} alerts from \`vigil alerts\``,
      server,
      hub,
      agent,
    );
    // Late duplicates or extra alerts would show up here.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const alerts = await cliJson("alerts", api);
    expect(alerts.map(alertKey).sort()).toEqual(expected);
    for (const alert of alerts) expect(alert.event).toMatchObject({ kind: "alert" });

    const agents = await cliJson("agents", api);
    expect(agents).toEqual([expect.objectContaining({ online: true })]);
  });

  test("distributed-cli - SIGTERM stops agent, hub and server cleanly (exit 0)", async () => {
    expect([agent, hub, server].every((handle) => handle !== undefined && isRunning(handle))).toBe(true);
    for (const handle of [agent, hub, server]) {
      const exit = await stop(handle);
      expect({ name: handle.name, ...exit }).toEqual({ name: handle.name, code: 0, signal: null });
    }
  });

  test("distributed-cli - a bad setting stops `vigil server` with a message naming the key", async () => {
    const bad = spawnVigil("server (bad config)", ["server"], {
      VIGIL_SERVER_NATS__SERVERS: nats.url,
      VIGIL_SERVER_NATS__TOKEN: NATS_TOKEN,
      VIGIL_SERVER_GRPC__PORT: "notaport",
      VIGIL_SERVER_API__PORT: String(await freeLoopbackPort()),
    });
    let timer: NodeJS.Timeout | undefined;
    const exit = await Promise.race([
      bad.exited,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`bad config did not stop vigil server:\n${bad.output()}`)),
          15_000,
        );
      }),
    ]).finally(() => clearTimeout(timer));
    expect(exit.code).not.toBe(0);
    expect(exit.code).not.toBeNull();
    expect(bad.output()).toMatch(/grpc\.port/);
    expect(bad.output()).toContain("invalid configuration");
  });
});
