import { existsSync, readFileSync, realpathSync } from "node:fs";

const CANDIDATES = [
  "/lib/x86_64-linux-gnu/libc.so.6",
  "/usr/lib/x86_64-linux-gnu/libc.so.6",
  "/lib/aarch64-linux-gnu/libc.so.6",
  "/usr/lib64/libc.so.6",
  "/lib64/libc.so.6",
  "/usr/lib/libc.so.6",
];

/** The glibc this agent runs on: the one most processes of the host map (uprobes are per inode). */
export function locateLibc(procRoot = "/proc"): string | undefined {
  try {
    for (const line of readFileSync(`${procRoot}/self/maps`, "utf8").split("\n")) {
      const at = line.indexOf("/");
      if (at >= 0 && /\/libc(?:-[\d.]+)?\.so(?:\.6)?$/.test(line)) return realpathSync(line.slice(at));
    }
  } catch {
    // Fall through to well-known paths.
  }
  const found = CANDIDATES.find((path) => existsSync(path));
  return found === undefined ? undefined : realpathSync(found);
}
