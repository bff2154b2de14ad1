import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freeLoopbackPort } from "../harness/nats-server";
import { httpOk } from "../harness/vigil-process";
import { waitFor } from "../harness/wait-for";

// The systemd units' SystemCallFilter= lists (deploy/systemd) against the
// system calls the programs really make, seen with strace -f: the server and
// hub code running (embedded mode replaying the reverse-shell scenario: API,
// gRPC ingress, rules, SQLite) and the agent executable with its host
// collectors (ftrace, procfs) as root. A call outside a unit's filter would
// fail with EPERM under systemd; the units have not been booted on this
// machine, so this is where that shows.

const ROOT = join(__dirname, "..", "..");
const NODE = process.execPath;
const CLI = join(ROOT, "cli", "dist", "main.js");
const SCENARIO = join(__dirname, "scenarios", "reverse-shell.jsonl");
/**
 * SQLite chowns a new journal to its database's owner only when it runs as
 * root (this test does; the server and hub units run as vigil, so they never
 * make the call).
 */
const ROOT_ONLY_CALLS = new Set(["fchown"]);

let work: string;
interface Traced {
  child: ChildProcess;
  exited: Promise<number | null>;
  output(): string;
}

const handles: Traced[] = [];

/** Every syscall group systemd knows, expanded to names. */
function syscallGroups(): Map<string, Set<string>> {
  const text = execFileSync("systemd-analyze", ["syscall-filter", "--no-pager"], { encoding: "utf8" });
  const raw = new Map<string, string[]>();
  let current: string[] | undefined;
  for (const line of text.split("\n")) {
    if (line.startsWith("@")) {
      current = [];
      raw.set(line.trim(), current);
    } else if (current && line.trim() && !line.trim().startsWith("#")) {
      current.push(line.trim());
    }
  }
  const expand = (name: string, seen = new Set<string>()): Set<string> => {
    const out = new Set<string>();
    if (seen.has(name)) return out;
    seen.add(name);
    for (const member of raw.get(name) ?? []) {
      for (const call of member.startsWith("@") ? expand(member, seen) : [member]) out.add(call);
    }
    return out;
  };
  return new Map([...raw.keys()].map((name) => [name, expand(name)]));
}

/** The calls a unit's SystemCallFilter= lines allow (allow-list minus ~deny lists). */
function allowedByUnit(unit: string, groups: Map<string, Set<string>>): Set<string> {
  const text = readFileSync(join(ROOT, "deploy", "systemd", `${unit}.service`), "utf8");
  const allowed = new Set<string>();
  const denied = new Set<string>();
  for (const [, value = ""] of text.matchAll(/^SystemCallFilter=(.*)$/gm)) {
    const deny = value.startsWith("~");
    for (const item of value.replace(/^~/, "").split(/\s+/).filter(Boolean)) {
      const calls = item.startsWith("@") ? groups.get(item) : new Set([item]);
      if (!calls) throw new Error(`${unit}.service: unknown syscall group ${item}`);
      for (const call of calls) (deny ? denied : allowed).add(call);
    }
  }
  if (allowed.size === 0) throw new Error(`${unit}.service has no SystemCallFilter allow-list`);
  for (const call of denied) allowed.delete(call);
  return allowed;
}

/** Syscall names in an strace -f log. */
function tracedCalls(log: string): Set<string> {
  const calls = new Set<string>();
  for (const line of readFileSync(log, "utf8").split("\n")) {
    const name = /^\d+\s+([a-z0-9_]+)\(/.exec(line)?.[1];
    if (name) calls.add(name);
  }
  return calls;
}

function traced(log: string, args: string[], env: NodeJS.ProcessEnv = process.env): Traced {
  const child = spawn("strace", ["-f", "-qq", "-o", log, ...args], {
    cwd: work,
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-65536);
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-65536);
  });
  const exited = new Promise<number | null>((done) => child.once("exit", (code) => done(code)));
  const handle = { child, exited, output: () => output };
  handles.push(handle);
  return handle;
}

/**
 * A signal to strace would only detach it: the traced program (strace's child)
 * gets SIGTERM, and strace exits after it.
 */
function signalTraced(handle: Traced, signal: NodeJS.Signals) {
  const pid = handle.child.pid;
  let children: string[] = [];
  try {
    children = readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").split(" ");
  } catch {
    return; // strace has exited, and its program with it
  }
  for (const child of children.filter((entry) => entry.trim())) process.kill(Number(child), signal);
}

async function stop(handle: Traced) {
  signalTraced(handle, "SIGTERM");
  const force = setTimeout(() => signalTraced(handle, "SIGKILL"), 20_000);
  await handle.exited;
  clearTimeout(force);
}

beforeAll(() => {
  for (const tool of ["strace", "systemd-analyze"]) {
    if (spawnSync("sh", ["-c", `command -v ${tool}`]).status !== 0) {
      throw new Error(`${tool} is missing: apt-get install -y strace systemd`);
    }
  }
  work = mkdtempSync(join(tmpdir(), "packages-syscalls-"));
});

afterAll(() => {
  for (const handle of handles) if (handle.child.exitCode === null) signalTraced(handle, "SIGKILL");
  if (work) rmSync(work, { recursive: true, force: true });
});

describe("packages - units' syscall filters hold what the programs call", () => {
  test("syscalls - server and hub code (embedded replay to alerts) stays within vigil-server's and vigil-hub's filters", async () => {
    const groups = syscallGroups();
    const apiPort = await freeLoopbackPort();
    const grpcPort = await freeLoopbackPort();
    const api = `http://127.0.0.1:${apiPort}`;
    const log = join(work, "embedded.strace");
    const vigil = traced(log, [
      NODE,
      CLI,
      "start",
      `--data-dir=${join(work, "data")}`,
      "--collectors=replay",
      `--replay=${SCENARIO}`,
      `--api-port=${apiPort}`,
      `--grpc-port=${grpcPort}`,
    ]);
    const alertCount = async () => {
      if (vigil.child.exitCode !== null) throw new Error(`vigil start exited:\n${vigil.output()}`);
      if (!(await httpOk(`${api}/healthz`))) return 0;
      const response = await fetch(`${api}/api/v1/alerts`, { signal: AbortSignal.timeout(5000) });
      const body = (await response.json()) as { alerts?: unknown[] };
      return body.alerts?.length ?? 0;
    };
    await waitFor(async () => (await alertCount()) >= 5, 60_000, "the scenario's alerts", 250).catch(
      (error: Error) => {
        throw new Error(`${error.message}\n${vigil.output()}`);
      },
    );
    await stop(vigil);
    const calls = tracedCalls(log);
    expect(calls.size).toBeGreaterThan(40);
    for (const unit of ["vigil-server", "vigil-hub"]) {
      const allowed = allowedByUnit(unit, groups);
      const outside = [...calls].filter((call) => !allowed.has(call) && !ROOT_ONLY_CALLS.has(call)).sort();
      expect({ unit, outside }).toEqual({ unit, outside: [] });
    }
  }, 120_000);

  test("syscalls - the agent executable with its host collectors stays within vigil-agent's filter", async () => {
    if (process.getuid?.() !== 0)
      throw new Error("the agent's host collectors need root: run as root, as CI does");
    const groups = syscallGroups();
    const exe = join(work, "vigil-agent");
    execFileSync(NODE, [join(ROOT, "deploy/packaging/sea/build-agent-exe.mjs"), "--out", exe], {
      cwd: ROOT,
      stdio: "pipe",
      timeout: 180_000,
    });
    const config = join(work, "agent.yaml");
    // No server listens there: the agent collects, spools and retries, as on a host cut off.
    writeFileSync(
      config,
      `servers: ["127.0.0.1:${await freeLoopbackPort()}"]\ncollectors: [ftrace, procfs]\nprocfsIntervalMs: 500\nstateDir: ${JSON.stringify(join(work, "agent-state"))}\n`,
      { mode: 0o600 },
    );
    const log = join(work, "agent.strace");
    const agent = traced(log, [exe, "--config", config], {
      PATH: process.env.PATH,
      VIGIL_AGENT_TOKEN: "packages-syscalls-token-0123456789",
    });
    // Started, and procfs has scanned at least twice (its interval is 500 ms).
    await waitFor(
      () => {
        if (agent.child.exitCode !== null) throw new Error(`vigil-agent exited:\n${agent.output()}`);
        return agent.output().includes('"msg":"agent started"');
      },
      30_000,
      "the agent to start",
      100,
    );
    await new Promise((resolve) => setTimeout(resolve, 1500));
    await stop(agent);
    const calls = tracedCalls(log);
    expect(calls.size).toBeGreaterThan(40);
    const allowed = allowedByUnit("vigil-agent", groups);
    expect([...calls].filter((call) => !allowed.has(call)).sort()).toEqual([]);
  }, 240_000);
});
