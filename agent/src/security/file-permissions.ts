import { chmodSync, mkdirSync, type Stats, statSync } from "node:fs";
import { ErrorCodes, VigilError } from "@vigil/common";

/**
 * Start-up checks on what the agent trusts on disk. Whoever can write the
 * config, the state directory or the credential can point the agent at
 * another server, take over its identity or forge the host's events; whoever
 * can read the credential can impersonate the host. So each must be owned by
 * root or the agent's own user and writable by no one else, and the
 * credential readable by no one else. The agent refuses to start otherwise,
 * with a message naming the path, the problem and the fix.
 */
export function insecure(path: string, problem: string, fix: string): VigilError {
  return new VigilError(
    ErrorCodes.INSECURE_PERMISSIONS,
    `${path} ${problem}: ${fix}; refusing to start on insecure permissions`,
  );
}

function mode(stat: Stats): string {
  return `0${(stat.mode & 0o777).toString(8).padStart(3, "0")}`;
}

function checkOwner(path: string, stat: Stats): void {
  const uid = process.getuid?.();
  if (uid === undefined || stat.uid === 0 || stat.uid === uid) return;
  throw insecure(
    path,
    `is owned by uid ${stat.uid}, not by root or the agent's uid ${uid}`,
    `chown ${uid === 0 ? "root" : uid} it`,
  );
}

function checkNotWritableByOthers(path: string, stat: Stats, fix: string): void {
  if ((stat.mode & 0o002) !== 0) throw insecure(path, `is world-writable (mode ${mode(stat)})`, fix);
  if ((stat.mode & 0o020) !== 0) throw insecure(path, `is group-writable (mode ${mode(stat)})`, fix);
}

/** The config file: root's or ours, writable by no one else. Returns true when group/others may read it. */
export function checkConfigFile(path: string): { readableByOthers: boolean } {
  const stat = statSync(path);
  checkOwner(path, stat);
  checkNotWritableByOthers(path, stat, "chmod 600 it");
  return { readableByOthers: (stat.mode & 0o044) !== 0 };
}

/**
 * The state directory (agent id, credential, default spool): created 0700
 * when missing; an existing one must be a directory, root's or ours, writable
 * by no one else. Read bits for group/others are removed.
 */
export function prepareStateDir(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (cause) {
    throw new VigilError(
      ErrorCodes.CONFIG_INVALID,
      `stateDir: cannot create ${dir} (${(cause as Error).message}); set VIGIL_AGENT_STATE_DIR to a writable directory or run as root`,
      { cause },
    );
  }
  const stat = statSync(dir);
  if (!stat.isDirectory()) throw insecure(dir, "is not a directory", "set stateDir to a directory");
  checkOwner(dir, stat);
  checkNotWritableByOthers(dir, stat, "chmod 700 it after checking its contents");
  if ((stat.mode & 0o077) !== 0) chmodSync(dir, 0o700);
}

/**
 * A secret file (the credential): a regular file, root's or ours, neither
 * readable nor writable by group or others. Missing is fine (undefined).
 */
export function checkSecretFile(path: string): Stats | undefined {
  let stat: Stats;
  try {
    stat = statSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
  if (!stat.isFile()) throw insecure(path, "is not a regular file", "remove it");
  checkOwner(path, stat);
  if ((stat.mode & 0o077) !== 0) {
    throw insecure(
      path,
      `is accessible to group or others (mode ${mode(stat)})`,
      "chmod 600 it (and revoke the agent if others could have read it)",
    );
  }
  return stat;
}

/** A file that must not be writable by others (the agent id). Missing is fine. */
export function checkStateFile(path: string): void {
  let stat: Stats;
  try {
    stat = statSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return;
    throw error;
  }
  checkOwner(path, stat);
  checkNotWritableByOthers(path, stat, "chmod 600 it");
}
