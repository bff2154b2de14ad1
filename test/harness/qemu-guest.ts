// Host side of the QEMU kernel harness (test/qemu/run-guest.sh): finds the
// kernel to boot, checks the prerequisites, builds vigil.ko against that
// kernel's headers, boots a guest scenario and decodes the record stream it
// brings back. Shared by the driver tests and bench/driver-overhead.mts.

import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { type DriverRecord, DriverRecordDecoder } from "../../agent/src/collectors/driver/record-decoder";

const REPO = resolve(__dirname, "../..");
const HARNESS = join(REPO, "test/qemu/run-guest.sh");

/** Debian point releases move linux-image-amd64 to a new ABI number; follow whatever is installed. */
export function newestKernelWithHeaders(): string | undefined {
  let images: string[];
  try {
    images = readdirSync("/boot").filter((name) => name.startsWith("vmlinuz-"));
  } catch {
    return undefined;
  }
  return images
    .map((name) => name.slice("vmlinuz-".length))
    .filter((version) => existsSync(`/usr/src/linux-headers-${version}/Makefile`))
    .sort((a, b) => a.localeCompare(b, "en", { numeric: true }))
    .pop();
}

/** The kernel the guest boots: VIGIL_KVER, else the newest one with an image and headers. */
export const KVER =
  process.env.VIGIL_KVER ?? newestKernelWithHeaders() ?? "(no kernel with headers installed)";
export const KERNEL = `/boot/vmlinuz-${KVER}`;
export const KDIR = `/usr/src/linux-headers-${KVER}`;

/** What is missing to boot the guest, each with the package that provides it. */
export function missingPrerequisites(): string[] {
  const missing: string[] = [];
  const has = (cmd: string) => spawnSync("sh", ["-c", `command -v ${cmd}`]).status === 0;
  if (!has("qemu-system-x86_64")) missing.push("qemu-system-x86_64: apt-get install qemu-system-x86");
  if (!existsSync(KERNEL))
    missing.push(`${KERNEL}: apt-get install linux-image-amd64 (or linux-image-${KVER})`);
  if (!existsSync(join(KDIR, "Makefile")))
    missing.push(`${KDIR}: apt-get install linux-headers-amd64 (or linux-headers-${KVER})`);
  if (!existsSync("/bin/busybox")) missing.push("/bin/busybox (static): apt-get install busybox-static");
  if (!has("gcc") || !existsSync("/usr/lib/x86_64-linux-gnu/libc.a"))
    missing.push("gcc and static libc: apt-get install gcc libc6-dev");
  if (!has("cpio")) missing.push("cpio: apt-get install cpio");
  return missing;
}

/** Throws a message naming every missing package: kernel tests never skip silently. */
export function assertPrerequisites(): void {
  const missing = missingPrerequisites();
  if (missing.length > 0) {
    throw new Error(`cannot run the kernel tests, missing:\n  - ${missing.join("\n  - ")}`);
  }
}

export interface KernelModuleBuild {
  /** make's exit status (null when it was killed). */
  status: number | null;
  /** What make printed, stdout then stderr. */
  output: string;
  /** Where `<name>.ko` is (present when status is 0). */
  ko: string;
}

/**
 * Runs Kbuild for a copy of `sourceDir` (so a build in the working tree is
 * never disturbed) in `work/<name>` against `kdir` with extra make arguments
 * (e.g. "W=1"); reports status and output, never throws on a failed build.
 */
export function makeKernelModule(
  sourceDir: string,
  work: string,
  name: string,
  kdir = KDIR,
  makeArgs: string[] = [],
): KernelModuleBuild {
  const dst = join(work, name);
  cpSync(sourceDir, dst, {
    recursive: true,
    filter: (from) => !/\.(o|ko|mod|mod\.c|cmd|order|symvers)$/.test(from) && !/\/(tests|tools)$/.test(from),
  });
  const make = spawnSync("make", ["-C", dst, `KDIR=${kdir}`, ...makeArgs], {
    encoding: "utf8",
    timeout: 300_000,
  });
  return {
    status: make.status,
    output: `${make.stdout ?? ""}${make.stderr ?? ""}`,
    ko: join(dst, `${name}.ko`),
  };
}

/** Builds a Kbuild module against KDIR (see makeKernelModule); returns the path of `<name>.ko` or throws with make's output. */
export function buildKernelModule(sourceDir: string, work: string, name: string): string {
  const build = makeKernelModule(sourceDir, work, name);
  if (build.status !== 0) throw new Error(`building ${name}.ko failed:\n${build.output}`);
  return build.ko;
}

/** vigil.ko for KVER: VIGIL_KO when set (prebuilt), else built from driver/ into `work`. */
export function buildVigilModule(work: string): string {
  return process.env.VIGIL_KO ?? buildKernelModule(join(REPO, "driver"), work, "vigil");
}

/** Boots the guest with run-guest.sh; its artefacts land in `out`. */
export function runGuest(out: string, args: string[], timeoutMs = 200_000): void {
  const run = spawnSync(HARNESS, ["-o", out, ...args], {
    encoding: "utf8",
    timeout: timeoutMs,
    env: { ...process.env, QEMU_TIMEOUT: String(Math.floor(timeoutMs / 1000) - 20), KERNEL },
  });
  if (run.status !== 0) {
    throw new Error(`run-guest.sh failed (${run.status ?? run.signal}):\n${run.stdout}\n${run.stderr}`);
  }
}

export interface GuestRun {
  /** Directory holding what the guest brought back (stream.bin, guest.log, dmesg.txt, ...). */
  out: string;
  guestLog: string;
  records: DriverRecord[];
  counters: DriverRecordDecoder["counters"];
  cleanUp(): void;
}

/**
 * Builds vigil.ko (or takes VIGIL_KO), boots the guest with harness options
 * `args`, and decodes the stream it brought back. VIGIL_KEEP_QEMU=1 keeps the
 * temp dir for inspection.
 */
export function bootGuest(prefix: string, args: string[], timeoutMs?: number): GuestRun {
  assertPrerequisites();
  const work = mkdtempSync(join(tmpdir(), prefix));
  const out = join(work, "out");
  const ko = buildVigilModule(work);
  runGuest(out, [...args, ko], timeoutMs);
  const streamPath = join(out, "stream.bin");
  const decoded = DriverRecordDecoder.decodeAll(
    existsSync(streamPath) ? readFileSync(streamPath) : Buffer.alloc(0),
  );
  return {
    out,
    guestLog: readFileSync(join(out, "guest.log"), "utf8"),
    records: decoded.records,
    counters: decoded.counters,
    cleanUp: () => {
      if (process.env.VIGIL_KEEP_QEMU === undefined) rmSync(work, { recursive: true, force: true });
    },
  };
}
