import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, realpathSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ExecutableHasher } from "./executable-hasher";

function sha256Of(path: string): string {
  return createHash("sha256").update(readFileSync(path)).digest("hex");
}

describe("executable hasher", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "vigil-hash-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("executable hasher - the real /bin/sh binary hashes to what node:crypto computes", async () => {
    const hasher = new ExecutableHasher({ maxBytes: 256 * 1024 * 1024 });
    const sh = realpathSync("/bin/sh");
    expect(await hasher.hash(sh)).toEqual({ kind: "hashed", sha256: sha256Of(sh) });
    expect(await hasher.hash(process.execPath)).toEqual({
      kind: "hashed",
      sha256: sha256Of(process.execPath),
    });
    expect(hasher.counters.hashed).toBe(2);
  });

  it("executable hasher - cached by device+inode+mtime+size, recomputed after the file changes", async () => {
    const hasher = new ExecutableHasher({ maxBytes: 1024 * 1024 });
    const file = join(dir, "tool");
    writeFileSync(file, "#!/bin/sh\necho one\n", { mode: 0o755 });
    const first = await hasher.hash(file);
    expect(first).toEqual({ kind: "hashed", sha256: sha256Of(file) });
    expect(await hasher.hash(file)).toEqual(first);
    expect(hasher.counters).toMatchObject({ hashed: 1, hashCacheHits: 1 });
    // Rewritten in place (same inode), with a different mtime.
    writeFileSync(file, "#!/bin/sh\necho two\n");
    utimesSync(file, new Date(), new Date(Date.now() + 5000));
    const second = await hasher.hash(file);
    expect(second).toEqual({ kind: "hashed", sha256: sha256Of(file) });
    expect(second).not.toEqual(first);
    expect(hasher.counters).toMatchObject({ hashed: 2, hashCacheHits: 1 });
  });

  it("executable hasher - files above maxBytes are skipped and counted, unreadable ones are errors", async () => {
    const hasher = new ExecutableHasher({ maxBytes: 1000 });
    const big = join(dir, "big");
    writeFileSync(big, Buffer.alloc(1001, 1));
    expect(await hasher.hash(big)).toEqual({ kind: "skipped-too-large", size: 1001 });
    expect(await hasher.hash(big)).toEqual({ kind: "skipped-too-large", size: 1001 });
    expect(hasher.counters.hashSkippedTooLarge).toBe(1);
    expect(hasher.counters.hashCacheHits).toBe(1);
    const missing = await hasher.hash(join(dir, "missing"));
    expect(missing.kind).toBe("error");
    expect(hasher.counters.hashErrors).toBe(1);
  });

  it("executable hasher - many files at once: bounded concurrency, every result right", async () => {
    const hasher = new ExecutableHasher({ maxBytes: 1 << 20, concurrency: 2 });
    const files = Array.from({ length: 20 }, (_, index) => {
      const file = join(dir, `f${index}`);
      writeFileSync(file, `content ${index}`);
      return file;
    });
    const outcomes = await Promise.all(files.map((file) => hasher.hash(file)));
    outcomes.forEach((outcome, index) => {
      expect(outcome).toEqual({ kind: "hashed", sha256: sha256Of(files[index]) });
    });
    expect(hasher.queued).toBe(0);
  });
});
