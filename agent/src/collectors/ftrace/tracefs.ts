// Finding (and if needed mounting) tracefs, and the file writes that
// configure it. Everything is synchronous: it runs at start/stop and from
// process-exit handlers, where nothing asynchronous gets to run.

import { execFile } from "node:child_process";
import { existsSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
import { promisify } from "node:util";

const execFileAsync = promisify(execFile);

export const TRACEFS_DEFAULT = "/sys/kernel/tracing";
export const TRACEFS_DEBUGFS = "/sys/kernel/debug/tracing";

/** Returns the tracefs root with instance support, mounting tracefs once if it is absent. */
export async function locateTracefs(preferred?: string): Promise<string | undefined> {
  if (preferred !== undefined) return existsSync(`${preferred}/instances`) ? preferred : undefined;
  if (existsSync(`${TRACEFS_DEFAULT}/instances`)) return TRACEFS_DEFAULT;
  try {
    await execFileAsync("mount", ["-t", "tracefs", "nodev", TRACEFS_DEFAULT], { timeout: 10_000 });
  } catch {
    // Not permitted or no tracefs; try the debugfs location below.
  }
  if (existsSync(`${TRACEFS_DEFAULT}/instances`)) return TRACEFS_DEFAULT;
  if (existsSync(`${TRACEFS_DEBUGFS}/instances`)) return TRACEFS_DEBUGFS;
  return undefined;
}

/** Writes a control file; the error names the file and, for probe definitions, the kernel's error_log. */
export function writeControl(root: string, relative: string, value: string, append = false): void {
  try {
    writeFileSync(`${root}/${relative}`, value, { flag: append ? "a" : "w" });
  } catch (error) {
    const detail = lastErrorLogLine(root);
    throw new Error(
      `write ${JSON.stringify(value)} to ${root}/${relative} failed: ${(error as Error).message}${detail ? ` (${detail})` : ""}`,
      { cause: error },
    );
  }
}

export function readControl(root: string, relative: string): string {
  return readFileSync(`${root}/${relative}`, "utf8");
}

function lastErrorLogLine(root: string): string {
  try {
    const lines = readFileSync(`${root}/error_log`, "utf8").trim().split("\n");
    return lines.slice(-3).join(" ").replace(/\s+/g, " ");
  } catch {
    return "";
  }
}

/** Disables everything in an instance and removes it. Safe to call twice. */
export function removeInstance(root: string, name: string): void {
  const dir = `${root}/instances/${name}`;
  if (!existsSync(dir)) return;
  try {
    writeFileSync(`${dir}/events/enable`, "0");
  } catch {
    // Removing the instance disables its events anyway.
  }
  rmdirSync(dir);
}

/** Removes every uprobe event of a group from uprobe_events. */
export function removeProbeGroup(root: string, group: string): void {
  for (const line of readUprobeEvents(root)) {
    if (line.group === group) writeControl(root, "uprobe_events", `-:${group}/${line.event}\n`, true);
  }
}

export interface ProbeLine {
  group: string;
  event: string;
}

export function readUprobeEvents(root: string): ProbeLine[] {
  let text: string;
  try {
    text = readControl(root, "uprobe_events");
  } catch {
    return [];
  }
  const lines: ProbeLine[] = [];
  for (const line of text.split("\n")) {
    const match = /^[pr]:([^/\s]+)\/(\S+)/.exec(line);
    if (match) lines.push({ group: match[1], event: match[2] });
  }
  return lines;
}

/** Instances and probe groups left by agents that died without cleaning up (kill -9). */
export function removeStale(root: string, isAlive: (pid: number) => boolean): string[] {
  const removed: string[] = [];
  let instances: string[] = [];
  try {
    instances = readdirSync(`${root}/instances`);
  } catch {
    // No instances directory: nothing stale.
  }
  for (const name of instances) {
    const match = /^vigil-(\d+)$/.exec(name);
    if (match === null || isAlive(Number(match[1]))) continue;
    removeInstance(root, name);
    removed.push(`instances/${name}`);
  }
  const groups = new Set(readUprobeEvents(root).map((line) => line.group));
  for (const group of groups) {
    const match = /^vigil_(\d+)$/.exec(group);
    if (match === null || isAlive(Number(match[1]))) continue;
    removeProbeGroup(root, group);
    removed.push(`uprobes ${group}`);
  }
  return removed;
}
