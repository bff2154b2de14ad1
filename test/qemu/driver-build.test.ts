// vigil.ko builds against the headers of every kernel series installed here,
// warning-free with the kernel's own flags plus W=1. CI installs Debian's
// packaged 6.1 headers (linux-headers-amd64) and the 6.12 series
// (linux-headers-6.12-amd64), so the compatibility layer (driver/compat.h) is
// exercised across kernel API changes on every run, not only on the kernel
// that boots in QEMU.

import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { makeKernelModule } from "../harness/qemu-guest";

const DRIVER = resolve(__dirname, "../../driver");

/** Header trees of full kernel flavours (not the shared -common halves). */
function installedHeaderTrees(): string[] {
  let names: string[] = [];
  try {
    names = readdirSync("/usr/src");
  } catch {
    return [];
  }
  return names
    .filter((name) => /^linux-headers-\d+\.\d+.*-amd64$/.test(name))
    .map((name) => join("/usr/src", name))
    .filter((dir) => existsSync(join(dir, "Makefile")))
    .sort();
}

/** "6.1" of /usr/src/linux-headers-6.1.0-56-amd64. */
function series(dir: string): string {
  return /linux-headers-(\d+\.\d+)/.exec(dir)?.[1] ?? dir;
}

const trees = installedHeaderTrees();

describe("vigil.ko builds against every installed kernel series", () => {
  it("has at least two kernel series to build against", () => {
    const found = [...new Set(trees.map(series))];
    if (found.length < 2) {
      throw new Error(
        `need headers of two kernel series, found: ${found.join(", ") || "none"}; ` +
          "apt-get install linux-headers-amd64 linux-headers-6.12-amd64",
      );
    }
  });

  it.each(trees.map((dir) => [series(dir), dir]))(
    "Linux %s (%s): no errors, no warnings with W=1",
    (_s, dir) => {
      const work = mkdtempSync(join(tmpdir(), "vigil-build-"));
      try {
        const build = makeKernelModule(DRIVER, work, "vigil", dir, ["W=1"]);
        expect({
          status: build.status,
          warnings: build.output.split("\n").filter((l) => /warning:|error:/i.test(l)),
        }).toEqual({
          status: 0,
          warnings: [],
        });
        expect(existsSync(build.ko)).toBe(true);
      } finally {
        rmSync(work, { recursive: true, force: true });
      }
    },
    300_000,
  );
});
