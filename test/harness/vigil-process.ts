import { type ChildProcess, spawn } from "node:child_process";
import { join, resolve } from "node:path";

// The built CLI (`vigil server`, `vigil agent`, ...) as a real child process,
// configured through VIGIL_* variables only (the developer's own are left out),
// with its output kept for failure messages. Fault tests kill these with -9.

const ROOT = resolve(__dirname, "..", "..");
export const VIGIL_CLI = join(ROOT, "cli", "dist", "main.js");
const OUTPUT_LIMIT = 256 * 1024;

export interface VigilProcess {
  readonly name: string;
  readonly child: ChildProcess;
  readonly pid: number;
  /** stdout + stderr so far (the last 256 KiB). */
  output(): string;
  isRunning(): boolean;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGKILL, resolved once it is gone. */
  kill9(): Promise<void>;
  /** SIGTERM, then SIGKILL after `timeoutMs`; resolves with how it exited. */
  stop(timeoutMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const started = new Set<VigilProcess>();

// A test process that dies must not leave vigil processes behind.
process.once("exit", () => {
  for (const handle of started) if (handle.isRunning()) handle.child.kill("SIGKILL");
});

export function spawnVigil(name: string, args: string[], env: Record<string, string>): VigilProcess {
  const base: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith("VIGIL_")) base[key] = value;
  const child = spawn(process.execPath, [VIGIL_CLI, ...args], {
    cwd: ROOT,
    env: { ...base, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const collect = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-OUTPUT_LIMIT);
  };
  child.stdout?.on("data", collect);
  child.stderr?.on("data", collect);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) => {
    child.once("exit", (code, signal) => done({ code, signal }));
    child.once("error", () => done({ code: null, signal: null }));
  });
  const isRunning = () => child.exitCode === null && child.signalCode === null;
  const handle: VigilProcess = {
    name,
    child,
    pid: child.pid ?? -1,
    output: () => output,
    isRunning,
    exited,
    async kill9() {
      if (isRunning()) child.kill("SIGKILL");
      await exited;
    },
    async stop(timeoutMs = 10_000) {
      if (isRunning()) child.kill("SIGTERM");
      const force = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
      try {
        return await exited;
      } finally {
        clearTimeout(force);
      }
    },
  };
  started.add(handle);
  void exited.then(() => started.delete(handle));
  return handle;
}

/** Every process spawned here that still runs is killed (-9); for afterAll. */
export async function killAllVigil(): Promise<void> {
  const running = [...started];
  await Promise.all(running.map((handle) => handle.kill9()));
}

export async function httpOk(url: string): Promise<boolean> {
  try {
    return (await fetch(url, { signal: AbortSignal.timeout(2000) })).ok;
  } catch {
    return false;
  }
}
