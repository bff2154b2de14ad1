import { type ChildProcess, spawn } from "node:child_process";
import { accessSync, constants, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";

// A real `nats-server -js` for tests: loopback only, a free port, a temp store
// dir. Fault tests kill it (-9) and restart it on the same port and store, so
// the file store and the clients' reconnect logic are exercised for real.

export interface NatsServerHandle {
  /** "nats://127.0.0.1:<port>" */
  readonly url: string;
  readonly port: number;
  readonly storeDir: string;
  /** True while the process runs. */
  isRunning(): boolean;
  /** SIGKILL: no flush, no goodbye to clients. */
  kill9(): Promise<void>;
  /** Start again on the same port and store (stopping it gracefully first if it runs). */
  restart(): Promise<void>;
  /** Graceful stop, then the store dir is removed. Call once, in afterAll. */
  stop(): Promise<void>;
}

export interface StartNatsServerOptions {
  /** Extra nats-server arguments (e.g. ["--user", "u", "--pass", "p"]). */
  args?: string[];
  /** How long to wait for "Server is ready" (default 15 s). */
  readyTimeoutMs?: number;
}

const READY_LINE = "Server is ready";
const STOP_TIMEOUT_MS = 10_000;
const running = new Set<ChildProcess>();

// A test process that dies must not leave servers behind.
process.once("exit", () => {
  for (const child of running) child.kill("SIGKILL");
});

export function findNatsServer(): string {
  const override = process.env.NATS_SERVER_BIN;
  const candidates = override
    ? [override]
    : (process.env.PATH ?? "").split(delimiter).map((d) => join(d, "nats-server"));
  for (const candidate of candidates) {
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here; try the next PATH entry
    }
  }
  throw new Error("nats-server not found: install it with `apt-get install nats-server`");
}

export function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address();
      const port = typeof address === "object" && address ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}

export async function startNatsServer(options: StartNatsServerOptions = {}): Promise<NatsServerHandle> {
  const binary = findNatsServer();
  const storeDir = mkdtempSync(join(tmpdir(), "vigil-nats-"));
  const readyTimeoutMs = options.readyTimeoutMs ?? 15_000;
  let port = 0;
  let args: string[] = [];
  let child: ChildProcess | undefined;
  // The probed port can be taken before nats-server binds it: try a few.
  for (let attempt = 1; child === undefined; attempt++) {
    port = await freeLoopbackPort();
    args = ["-a", "127.0.0.1", "-p", String(port), "-js", "-sd", storeDir, ...(options.args ?? [])];
    try {
      child = await launch(binary, args, readyTimeoutMs);
    } catch (error) {
      if (attempt >= 3) {
        rmSync(storeDir, { recursive: true, force: true });
        throw error;
      }
    }
  }

  const halt = async (signal: NodeJS.Signals) => {
    const current = child;
    child = undefined;
    if (current) await terminate(current, signal);
  };

  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    storeDir,
    isRunning: () => child !== undefined,
    kill9: () => halt("SIGKILL"),
    restart: async () => {
      await halt("SIGTERM");
      child = await launch(binary, args, readyTimeoutMs);
    },
    stop: async () => {
      await halt("SIGTERM");
      rmSync(storeDir, { recursive: true, force: true });
    },
  };
}

async function launch(binary: string, args: string[], readyTimeoutMs: number): Promise<ChildProcess> {
  const child = spawn(binary, args, { stdio: ["ignore", "pipe", "pipe"] });
  running.add(child);
  child.once("exit", () => running.delete(child));
  let output = "";
  const onData = (chunk: Buffer) => {
    output += chunk.toString();
  };
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`nats-server not ready within ${readyTimeoutMs} ms:\n${output}`)),
        readyTimeoutMs,
      );
      const onReady = () => {
        if (output.includes(READY_LINE)) {
          clearTimeout(timer);
          resolve();
        }
      };
      for (const pipe of [child.stdout, child.stderr]) {
        pipe?.on("data", onData);
        pipe?.on("data", onReady);
      }
      child.once("error", (error) => {
        clearTimeout(timer);
        reject(error);
      });
      child.once("exit", (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`nats-server exited (${code ?? signal}) before it was ready:\n${output}`));
      });
    });
  } catch (error) {
    child.kill("SIGKILL");
    throw error;
  }
  // Stop collecting, keep draining: a chatty server must never block on a full pipe.
  for (const pipe of [child.stdout, child.stderr]) {
    pipe?.removeAllListeners("data");
    pipe?.resume();
  }
  return child;
}

function terminate(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const force = setTimeout(() => child.kill("SIGKILL"), STOP_TIMEOUT_MS);
    child.once("exit", () => {
      clearTimeout(force);
      resolve();
    });
    child.kill(signal);
  });
}
