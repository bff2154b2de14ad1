import { constants, promises as fs } from "node:fs";
import { isAbsolute, normalize } from "node:path";
import type { UserNames } from "../collectors/proc/user-names";
import { sha256OfFile } from "../context/file-digest";
import { TaskError } from "./types";

export interface FileHashResult {
  path: string;
  sha256: string;
  size: number;
  /** Permission bits and type, octal ("100755"). */
  mode: string;
  uid: number;
  gid: number;
  owner: string;
  mtimeUs: number;
}

/**
 * sha256 and metadata of one regular file. The path must be absolute and
 * normal (no "." or ".." segments, no trailing slash) and must not go through
 * a symlink anywhere: the file is opened with O_NOFOLLOW (a symlink as the
 * last component fails) and O_NONBLOCK (a FIFO cannot hang the task), then the
 * path the kernel reports for the open descriptor (/proc/self/fd/N) must be
 * the requested one, which it is not when a directory on the way is a symlink
 * (or was swapped for one). Only regular files (fstat of that descriptor, so
 * no race), at most maxBytes of them; what is hashed is what was checked.
 */
export async function hashFile(
  path: string | undefined,
  options: { maxBytes: number; userNames: UserNames },
): Promise<FileHashResult> {
  if (!path || !isAbsolute(path) || normalize(path) !== path || path.endsWith("/") || path.includes("\0")) {
    throw new TaskError("params.path: must be an absolute, normalized path to a file");
  }
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ELOOP") throw new TaskError(`refused: ${path} is a symlink (symlinks are not followed)`);
    throw new TaskError(`cannot open ${path}: ${code ?? (error as Error).message}`);
  }
  try {
    let opened: string;
    try {
      opened = await fs.readlink(`/proc/self/fd/${handle.fd}`);
    } catch {
      throw new TaskError("cannot check the opened path (/proc/self/fd unreadable)");
    }
    if (opened !== path) {
      throw new TaskError(`refused: ${path} resolves to ${opened} through a symlinked directory`);
    }
    const stat = await handle.stat({ bigint: false });
    if (!stat.isFile()) throw new TaskError(`refused: ${path} is not a regular file`);
    if (stat.size > options.maxBytes) {
      throw new TaskError(
        `refused: ${path} is ${stat.size} bytes; tasks.fileHash.maxBytes is ${options.maxBytes}`,
      );
    }
    const digest = await sha256OfFile(handle, options.maxBytes);
    if (digest === undefined) {
      throw new TaskError(`refused: ${path} grew beyond tasks.fileHash.maxBytes while it was read`);
    }
    return {
      path,
      sha256: digest.sha256,
      size: digest.size,
      mode: stat.mode.toString(8),
      uid: stat.uid,
      gid: stat.gid,
      owner: options.userNames.lookup(stat.uid),
      mtimeUs: Math.round(stat.mtimeMs * 1000),
    };
  } finally {
    await handle.close();
  }
}
