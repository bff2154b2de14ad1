import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { readDynamicFunctionSymbols } from "./elf-symbols";
import { locateLibc } from "./libc-locator";

describe("elf symbols", () => {
  const libc = locateLibc();
  if (libc === undefined) throw new Error("glibc not found: these tests read the host's libc.so.6");
  const image = readFileSync(libc);
  const symbols = readDynamicFunctionSymbols(image);

  it("elf symbols - finds the libc wrappers the uprobes need", () => {
    for (const name of ["execve", "fexecve", "open64", "openat64", "connect", "chdir", "_exit"]) {
      const symbol = symbols.get(name);
      expect(symbol).toBeDefined();
      expect(symbol?.fileOffset).toBeGreaterThan(0);
      expect(symbol?.fileOffset).toBeLessThan(image.length);
    }
  });

  it("elf symbols - aliases share one address", () => {
    expect(symbols.get("open")?.fileOffset).toBe(symbols.get("open64")?.fileOffset);
    expect(symbols.get("openat")?.fileOffset).toBe(symbols.get("openat64")?.fileOffset);
  });

  it("elf symbols - addresses agree with binutils nm -D", () => {
    const nm = ["/usr/bin/nm", "/bin/nm"].find((path) => existsSync(path));
    if (nm === undefined) throw new Error("nm (binutils) is needed to cross-check the ELF reader");
    const output = execFileSync(nm, ["-D", "--defined-only", libc], {
      encoding: "utf8",
      maxBuffer: 64 << 20,
    });
    const checked: string[] = [];
    for (const line of output.split("\n")) {
      const match = /^([0-9a-f]+) [TW] (execve|connect|chdir|openat64|_exit)@@/.exec(line);
      if (match === null) continue;
      expect(symbols.get(match[2])?.address).toBe(Number.parseInt(match[1], 16));
      checked.push(match[2]);
    }
    expect(checked.sort()).toEqual(["_exit", "chdir", "connect", "execve", "openat64"]);
  });

  it("elf symbols - rejects what is not a 64-bit ELF", () => {
    expect(() => readDynamicFunctionSymbols(Buffer.from("#!/bin/sh\n".padEnd(80)))).toThrow(/not an ELF/);
  });
});
