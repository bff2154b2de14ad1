import { createHash } from "node:crypto";
import type { FileHandle } from "node:fs/promises";

const CHUNK_BYTES = 1024 * 1024;

/**
 * SHA-256 of an open file, read one chunk at a time from its start. Returns
 * undefined once more than maxBytes were read: a file that grows while it is
 * hashed never makes the read unbounded. Used by the executable hasher and the
 * file-hash task.
 */
export async function sha256OfFile(
  handle: FileHandle,
  maxBytes: number,
): Promise<{ sha256: string; size: number } | undefined> {
  const hash = createHash("sha256");
  const buffer = Buffer.allocUnsafe(CHUNK_BYTES);
  let size = 0;
  for (;;) {
    const { bytesRead } = await handle.read(buffer, 0, CHUNK_BYTES, size);
    if (bytesRead === 0) break;
    size += bytesRead;
    if (size > maxBytes) return undefined;
    hash.update(buffer.subarray(0, bytesRead));
  }
  return { sha256: hash.digest("hex"), size };
}
