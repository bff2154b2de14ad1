import { type SpawnSyncReturns, spawnSync } from "node:child_process";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

// A fresh minimal Debian (debootstrap --variant=minbase, plus systemd so that
// systemd-analyze --root finds the targets units refer to) for package tests.
// debootstrap takes ~40 s, so its result is kept as a tarball under
// VIGIL_CHROOT_CACHE (default /var/cache/vigil-test) and every test run
// unpacks a new copy (~3 s). Nothing is mounted inside, so removing it is rm -r.

const CACHE_DIR = process.env.VIGIL_CHROOT_CACHE ?? "/var/cache/vigil-test";

function run(file: string, args: string[], timeoutMs = 60_000): SpawnSyncReturns<string> {
  return spawnSync(file, args, { encoding: "utf8", timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 });
}

function check(result: SpawnSyncReturns<string>, what: string): string {
  if (result.status !== 0) {
    throw new Error(`${what} failed (${result.status ?? result.signal}):\n${result.stdout}${result.stderr}`);
  }
  return result.stdout;
}

/** The host's Debian release: the chroot matches it (CI: bookworm). */
export function hostSuite(): string {
  const osRelease = readFileSync("/etc/os-release", "utf8");
  return /^VERSION_CODENAME=(\w+)$/m.exec(osRelease)?.[1] ?? "bookworm";
}

/** The Debian mirror the host's apt uses (the only one reachable here). */
export function aptMirror(): string {
  const fromEnv = process.env.VIGIL_DEBIAN_MIRROR;
  if (fromEnv) return fromEnv;
  const dir = "/etc/apt/sources.list.d";
  const texts = existsSync(dir)
    ? readdirSync(dir)
        .filter((name) => name.endsWith(".sources") || name.endsWith(".list"))
        .map((name) => readFileSync(join(dir, name), "utf8"))
    : [];
  if (existsSync("/etc/apt/sources.list")) texts.push(readFileSync("/etc/apt/sources.list", "utf8"));
  for (const text of texts) {
    const deb822 = /^URIs:\s*(\S+\/debian)\/?$/m.exec(text);
    if (deb822?.[1]) return deb822[1];
    const oneLine = /^deb\s+(?:\[[^\]]*\]\s+)?(\S+\/debian)\/?\s/m.exec(text);
    if (oneLine?.[1]) return oneLine[1];
  }
  return "http://deb.debian.org/debian";
}

/** What the package tests need on the host; a missing tool is an error that says what to install. */
export function requirePackageTools(): void {
  if (process.getuid?.() !== 0) {
    throw new Error(
      "the package tests need root (debootstrap, chroot, dpkg -i): run them as root, as CI does",
    );
  }
  const missing = ["dpkg-deb", "debootstrap", "chroot", "unshare", "systemd-analyze", "tar"].filter(
    (tool) => run("sh", ["-c", `command -v ${tool}`]).status !== 0,
  );
  if (missing.length > 0) {
    throw new Error(
      `missing ${missing.join(", ")}: apt-get install -y debootstrap systemd dpkg coreutils util-linux tar`,
    );
  }
}

/** The cached base system, made with debootstrap when absent. */
export function baseTarball(suite = hostSuite()): string {
  const tarball = join(CACHE_DIR, `${suite}-minbase-systemd.tar`);
  if (existsSync(tarball)) return tarball;
  mkdirSync(CACHE_DIR, { recursive: true });
  const dir = mkdtempSync(join(CACHE_DIR, `${suite}-debootstrap-`));
  try {
    check(
      run("debootstrap", ["--variant=minbase", "--include=systemd", suite, dir, aptMirror()], 15 * 60_000),
      `debootstrap ${suite}`,
    );
    check(run("tar", ["-C", dir, "-cf", `${tarball}.part`, "."], 5 * 60_000), "tar of the new chroot");
    renameSync(`${tarball}.part`, tarball);
  } finally {
    rmSync(dir, { recursive: true, force: true });
    rmSync(`${tarball}.part`, { force: true });
  }
  return tarball;
}

export interface Chroot {
  readonly dir: string;
  /** Runs a command inside with a clean environment; never throws. */
  run(args: string[], timeoutMs?: number): SpawnSyncReturns<string>;
  /** Runs a command inside and returns its stdout; throws with its output on failure. */
  check(args: string[], timeoutMs?: number): string;
  remove(): void;
}

/** A new copy of the base system in a temp dir, with services kept from starting. */
export function newChroot(): Chroot {
  const tarball = baseTarball();
  const dir = mkdtempSync(join(tmpdir(), "packages-chroot-"));
  check(run("tar", ["-C", dir, "-xf", tarball], 5 * 60_000), "unpacking the chroot");
  // invoke-rc.d / deb-systemd-invoke ask this before starting anything.
  writeFileSync(join(dir, "usr/sbin/policy-rc.d"), "#!/bin/sh\nexit 101\n");
  chmodSync(join(dir, "usr/sbin/policy-rc.d"), 0o755);
  const inside = (args: string[], timeoutMs = 120_000) =>
    run(
      "chroot",
      [dir, "/usr/bin/env", "-i", "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8", ...args],
      timeoutMs,
    );
  return {
    dir,
    run: inside,
    check: (args, timeoutMs) => check(inside(args, timeoutMs), args.join(" ")),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
