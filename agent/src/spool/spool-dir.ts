import { chmodSync, lstatSync, mkdirSync } from "node:fs";
import { ErrorCodes, VigilError } from "@vigil/common";

/**
 * Creates the spool directory 0700 or checks the one that is there: a
 * directory (not a symlink) owned by the agent's user and writable by no one
 * else, since whoever can write there can forge or erase the host's events.
 * Group/other read bits are removed; anything worse refuses the start.
 */
export function prepareSpoolDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const stat = lstatSync(dir);
  const refuse = (why: string) =>
    new VigilError(ErrorCodes.CONFIG_INVALID, `spool directory ${dir} ${why}; refusing to start (spool.dir)`);
  if (!stat.isDirectory()) throw refuse("is not a directory (symlinks are refused)");
  const uid = process.getuid?.();
  if (uid !== undefined && stat.uid !== uid) {
    throw refuse(`is owned by uid ${stat.uid}, not by the agent's uid ${uid}: chown it or remove it`);
  }
  if ((stat.mode & 0o022) !== 0) {
    throw refuse(
      `is writable by group or others (mode ${(stat.mode & 0o777).toString(8)}): chmod 700 it after checking its contents`,
    );
  }
  if ((stat.mode & 0o077) !== 0) chmodSync(dir, 0o700);
}
