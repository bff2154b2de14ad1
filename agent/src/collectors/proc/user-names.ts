import { readFileSync, statSync } from "node:fs";

/** uid -> user name from /etc/passwd, reloaded only when an unknown uid shows up and the file changed. */
export class UserNames {
  private readonly names = new Map<number, string>();
  private loadedMtimeMs = -1;

  constructor(private readonly passwdPath = "/etc/passwd") {
    this.reload();
  }

  lookup(uid: number): string {
    const name = this.names.get(uid);
    if (name !== undefined) return name;
    if (this.reload()) return this.names.get(uid) ?? "";
    return "";
  }

  /** Returns true when the file was (re)read. */
  private reload(): boolean {
    let mtimeMs: number;
    try {
      mtimeMs = statSync(this.passwdPath).mtimeMs;
    } catch {
      return false;
    }
    if (mtimeMs === this.loadedMtimeMs) return false;
    this.loadedMtimeMs = mtimeMs;
    this.names.clear();
    for (const line of readFileSync(this.passwdPath, "utf8").split("\n")) {
      const fields = line.split(":");
      if (fields.length < 3) continue;
      const uid = Number(fields[2]);
      if (Number.isInteger(uid) && !this.names.has(uid)) this.names.set(uid, fields[0]);
    }
    return true;
  }
}
