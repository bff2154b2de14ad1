import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { arch, hostname, networkInterfaces, release } from "node:os";
import { join } from "node:path";
import { ErrorCodes, VigilError } from "@vigil/common";
import { writeFileAtomic } from "../security/atomic-write";
import { checkStateFile, prepareStateDir } from "../security/file-permissions";

export interface HostInfo {
  hostname: string;
  osName: string;
  osVersion: string;
  kernelRelease: string;
  architecture: string;
  ipAddresses: string[];
}

export function readHostInfo(): HostInfo {
  const osRelease = parseOsRelease(safeRead("/etc/os-release"));
  return {
    hostname: hostname(),
    osName: osRelease.NAME ?? "Linux",
    osVersion: osRelease.VERSION_ID ?? osRelease.VERSION ?? "",
    kernelRelease: release(),
    architecture: arch(),
    ipAddresses: Object.values(networkInterfaces())
      .flat()
      .filter((entry) => entry !== undefined && !entry.internal)
      .map((entry) => entry?.address ?? ""),
  };
}

/** Version of the loaded vigil.ko (its MODULE_VERSION), "" when the driver is not loaded. */
export function readDriverVersion(): string {
  return safeRead("/sys/module/vigil/version").trim().slice(0, 64);
}

/**
 * The agent id survives restarts: a UUID generated once, kept in
 * stateDir/agent-id (0600, written atomically). The server binds the agent's
 * credential to it, so it must not change while the credential is kept.
 */
export function loadOrCreateAgentId(stateDir: string): string {
  const file = join(stateDir, "agent-id");
  prepareStateDir(stateDir);
  checkStateFile(file);
  const existing = safeRead(file).trim();
  if (/^[A-Za-z0-9_-]{1,64}$/.test(existing)) return existing;
  const id = randomUUID();
  try {
    writeFileAtomic(file, `${id}\n`);
  } catch (cause) {
    throw new VigilError(
      ErrorCodes.CONFIG_INVALID,
      `stateDir: cannot write ${file} (${(cause as Error).message}); set VIGIL_AGENT_STATE_DIR to a writable directory or run as root`,
      { cause },
    );
  }
  return id;
}

function parseOsRelease(text: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const match = /^([A-Z_]+)=(.*)$/.exec(line.trim());
    if (match) fields[match[1]] = match[2].replace(/^"(.*)"$/, "$1");
  }
  return fields;
}

function safeRead(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
}
