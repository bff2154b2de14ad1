import { mkdirSync } from "node:fs";
import { resolve } from "node:path";

/** Where embedded mode keeps its alert database and agent state. */
export function defaultDataDir(): string {
  if (process.env.VIGIL_DATA_DIR) return resolve(process.env.VIGIL_DATA_DIR);
  return process.getuid?.() === 0 ? "/var/lib/vigil" : resolve(".vigil-data");
}

export function ensureDataDir(dir: string): string {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return dir;
}
