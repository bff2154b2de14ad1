import { type ChildProcess, execFile, spawn } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { AGENT_VERSION } from "@vigil/agent";
import { freeLoopbackPort, type NatsServerHandle, startNatsServer } from "../harness/nats-server";
import { httpOk, killAllVigil, spawnVigil, VIGIL_CLI, type VigilProcess } from "../harness/vigil-process";
import { waitFor } from "../harness/wait-for";

// The agent as one executable (npm run build:agent-exe): built here from the
// checkout, then run from a directory with no node_modules and a PATH with no
// node on it — as on a host that never had Node.js. Beyond --version/--help
// and config checks, it replays the reverse-shell scenario to a real
// `vigil server` + `vigil hub` on a real nats-server, and the scenario's
// alerts must come out exactly.

const execFileAsync = promisify(execFile);
const ROOT = join(__dirname, "..", "..");
const BUILD_SCRIPT = join(ROOT, "deploy", "packaging", "sea", "build-agent-exe.mjs");
const SCENARIO = join(__dirname, "scenarios", "reverse-shell.jsonl");
const EXPECTED = join(__dirname, "scenarios", "reverse-shell.expected.json");
const AGENT_TOKEN = "packages-agent-exe-token-0123456789";
const NATS_TOKEN = "packages-agent-exe-nats-0123456789";
const OUTPUT_LIMIT = 256 * 1024;

let workDir: string;
let exe: string;
/** A directory on PATH holding no node: the executable must not look for one. */
let emptyBin: string;
const exeChildren: ChildProcess[] = [];

/** No VIGIL_* of the developer's, no NODE_OPTIONS, a PATH without node. */
function hostEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { PATH: emptyBin, HOME: workDir, LANG: "C.UTF-8", ...extra };
}

async function runExe(args: string[], env: Record<string, string> = {}) {
  try {
    const { stdout, stderr } = await execFileAsync(exe, args, {
      cwd: workDir,
      env: hostEnv(env),
      timeout: 30_000,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { code: failed.code ?? -1, stdout: failed.stdout ?? "", stderr: failed.stderr ?? "" };
  }
}

function spawnExe(args: string[], env: Record<string, string>) {
  const child = spawn(exe, args, { cwd: workDir, env: hostEnv(env), stdio: ["ignore", "pipe", "pipe"] });
  exeChildren.push(child);
  let output = "";
  const collect = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-OUTPUT_LIMIT);
  };
  child.stdout?.on("data", collect);
  child.stderr?.on("data", collect);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) => {
    child.once("exit", (code, signal) => done({ code, signal }));
  });
  return { child, exited, output: () => output };
}

async function cliJson(command: "alerts" | "agents", api: string): Promise<Array<Record<string, unknown>>> {
  const { stdout } = await execFileAsync(process.execPath, [VIGIL_CLI, command, "--api", api, "--json"], {
    cwd: ROOT,
    timeout: 10_000,
  });
  return stdout
    .split("\n")
    .filter((line) => line.trim())
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

beforeAll(async () => {
  if (!existsSync(join(ROOT, "agent", "dist", "index.js"))) {
    throw new Error("agent/dist is missing: run `npm run build` first (`npm test` builds before jest)");
  }
  workDir = mkdtempSync(join(tmpdir(), "packages-agent-exe-"));
  emptyBin = join(workDir, "bin");
  mkdirSync(emptyBin);
  exe = join(workDir, "vigil-agent");
  await execFileAsync(process.execPath, [BUILD_SCRIPT, "--out", exe], { cwd: ROOT, timeout: 180_000 });
}, 200_000);

afterAll(async () => {
  for (const child of exeChildren)
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  await killAllVigil();
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

describe("packages - the agent as a single executable", () => {
  test("agent exe - --version and --help work with no Node.js on PATH and no node_modules", async () => {
    expect(existsSync(join(workDir, "node_modules"))).toBe(false);
    const version = await runExe(["--version"]);
    expect(version).toMatchObject({ code: 0, stderr: "" });
    expect(version.stdout).toBe(`vigil-agent ${AGENT_VERSION} (Node.js ${process.version})\n`);

    const help = await runExe(["--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("Usage: vigil-agent");
    expect(help.stdout).toContain("--check-config");
  });

  test("agent exe - an unknown option is refused with exit 1 naming it", async () => {
    const result = await runExe(["--frobnicate"]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("--frobnicate");
  });

  test("agent exe - --check-config reads the YAML file and the environment, and names a bad key", async () => {
    const config = join(workDir, "agent.yaml");
    writeFileSync(config, "servers: [127.0.0.1:7999]\ncollectors: [procfs]\nlogLevel: warn\n", {
      mode: 0o600,
    });
    const good = await runExe(["--check-config", "--config", config], {
      VIGIL_AGENT_STATE_DIR: join(workDir, "state-check"),
      VIGIL_AGENT_TOKEN: AGENT_TOKEN,
    });
    expect(good.code).toBe(0);
    expect(JSON.parse(good.stdout)).toEqual({
      configFile: config,
      servers: ["127.0.0.1:7999"],
      discovery: "static",
      collectors: ["procfs"],
      stateDir: join(workDir, "state-check"),
      tls: false,
      token: true,
    });
    expect(good.stdout).not.toContain(AGENT_TOKEN);

    writeFileSync(config, "servers: [127.0.0.1:7999]\nbatch:\n  maxEvents: lots\n", { mode: 0o600 });
    const bad = await runExe(["--check-config", "-c", config]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("batch.maxEvents");
  });

  test("agent exe - a config file others may write is refused", async () => {
    const config = join(workDir, "agent-open.yaml");
    writeFileSync(config, "servers: [127.0.0.1:7999]\n");
    chmodSync(config, 0o666);
    const result = await runExe(["--check-config", "-c", config]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("world-writable");
  });

  describe("a real run", () => {
    let nats: NatsServerHandle;
    let server: VigilProcess;
    let hub: VigilProcess;
    let api: string;

    beforeAll(async () => {
      nats = await startNatsServer({ args: ["--auth", NATS_TOKEN] });
    });

    afterAll(async () => {
      await killAllVigil();
      await nats?.stop();
    });

    test("agent exe - replays the reverse-shell scenario through server and hub into exactly its alerts, then stops on SIGTERM", async () => {
      const grpcPort = await freeLoopbackPort();
      const apiPort = await freeLoopbackPort();
      api = `http://127.0.0.1:${apiPort}`;
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
      /** True, or throws with its output when server or hub has died. */
      const running = () => {
        for (const handle of [server, hub]) {
          if (!handle.isRunning()) throw new Error(`vigil ${handle.name} exited:\n${handle.output()}`);
        }
        return true;
      };
      await waitFor(
        async () => running() && (await httpOk(`${api}/healthz`)),
        20_000,
        "the server's /healthz",
        100,
      );
      await waitFor(
        () => running() && hub.output().includes('"msg":"hub consuming"'),
        20_000,
        "the hub to consume",
        100,
      );

      const config = join(workDir, "agent-run.yaml");
      writeFileSync(
        config,
        [
          `servers: ["127.0.0.1:${grpcPort}"]`,
          "collectors: [replay]",
          `replay:\n  files: [${JSON.stringify(SCENARIO)}]`,
          `stateDir: ${JSON.stringify(join(workDir, "agent-state"))}`,
          "",
        ].join("\n"),
        { mode: 0o600 },
      );
      const agent = spawnExe(["--config", config], { VIGIL_AGENT_TOKEN: AGENT_TOKEN });

      const expected = (JSON.parse(readFileSync(EXPECTED, "utf8")) as Array<{ pid: number; rule: string }>)
        .map((alert) => `${alert.pid} ${alert.rule}`)
        .sort();
      await waitFor(
        async () => {
          running();
          if (agent.child.exitCode !== null) throw new Error(`vigil-agent exited:\n${agent.output()}`);
          return (await cliJson("alerts", api)).length >= expected.length;
        },
        30_000,
        `${expected.length} alerts`,
        200,
      );
      const alerts = await cliJson("alerts", api);
      const keys = alerts
        .map((alert) => {
          const pid = (alert.process as { pid?: number } | undefined)?.pid;
          const rule = (alert.rule as { id?: string } | undefined)?.id;
          return `${pid} ${rule}`;
        })
        .sort();
      expect(keys).toEqual(expected);
      // The server knows the executable as an agent of this version.
      const agents = await cliJson("agents", api);
      expect(agents).toEqual([
        expect.objectContaining({ online: true, agentVersion: AGENT_VERSION, collectors: ["replay"] }),
      ]);

      agent.child.kill("SIGTERM");
      expect(await agent.exited).toEqual({ code: 0, signal: null });
      expect(agent.output()).toContain("SIGTERM, stopping");
    });
  });
});
