import { DRIVER_HOOK_NAMES, driverPolicyCommandBytes, isVigilError } from "@vigil/common";
import fc from "fast-check";
import {
  buildDriverFilterCommands,
  buildDriverFilterWrite,
  DriverFilterError,
  type DriverFilters,
  enabledHookMask,
  partitionAllowExecutables,
  SWITCHABLE_DRIVER_HOOKS,
} from "./driver-filters";
import { DRIVER_EVENT_IDS as T, VIGIL_TYPE_MAX } from "./event-table.gen";

const NONE: DriverFilters = { watchedPrefixes: [], allowExecutables: [], disabledHooks: [] };

function errorOf(filters: DriverFilters): string {
  try {
    buildDriverFilterWrite(filters);
  } catch (error) {
    expect(error).toBeInstanceOf(DriverFilterError);
    expect(isVigilError(error)).toBe(true);
    return (error as Error).message;
  }
  throw new Error("expected the filters to be refused");
}

describe("driver filters - policy to /dev/vigil control commands", () => {
  test("the full filter state: lists cleared and refilled, every hook on then the disabled ones off, stats last", () => {
    const filters: DriverFilters = {
      watchedPrefixes: ["/etc/", "/srv/app data/"],
      allowExecutables: ["/usr/sbin/cron", "2049:1234567"],
      disabledHooks: ["fork", "dns"],
    };
    expect(buildDriverFilterCommands(filters)).toEqual([
      "clear-watch",
      "watch /etc/",
      "watch /srv/app data/",
      "clear-allow",
      "allow-exe /usr/sbin/cron",
      "allow-ino 2049 1234567",
      "hook all on",
      "hook fork off",
      "hook dns off",
      "stats",
    ]);
    expect(buildDriverFilterWrite(filters)).toBe(
      "clear-watch\nwatch /etc/\nwatch /srv/app data/\nclear-allow\nallow-exe /usr/sbin/cron\n" +
        "allow-ino 2049 1234567\nhook all on\nhook fork off\nhook dns off\nstats\n",
    );
  });

  test("nothing set: no prefixes, empty allow-list, every hook on", () => {
    expect(buildDriverFilterWrite(NONE)).toBe("clear-watch\nclear-allow\nhook all on\nstats\n");
  });

  test("duplicates are written once; dev:ino is canonical decimal (the driver reads a leading 0 as octal)", () => {
    expect(
      buildDriverFilterCommands({
        watchedPrefixes: ["/etc/", "/etc/"],
        allowExecutables: ["0008:00042", "8:42", "/bin/sh", "/bin/sh"],
        disabledHooks: ["exit", "exit"],
      }),
    ).toEqual([
      "clear-watch",
      "watch /etc/",
      "clear-allow",
      "allow-ino 8 42",
      "allow-exe /bin/sh",
      "hook all on",
      "hook exit off",
      "stats",
    ]);
  });

  test("entries the driver would refuse are named with what is wrong", () => {
    expect(errorOf({ ...NONE, watchedPrefixes: ["/etc/", "etc/"] })).toBe(
      'watched prefix 1 "etc/" must be an absolute path (start with /)',
    );
    expect(errorOf({ ...NONE, watchedPrefixes: ["/etc/\nclear-allow"] })).toMatch(
      /^watched prefix 0 "\/etc\/\\nclear-allow" must not contain control characters/,
    );
    expect(errorOf({ ...NONE, watchedPrefixes: [`/${"a".repeat(255)}`] })).toMatch(
      /^watched prefix 0 "\/a+…" is 256 bytes long; the driver takes at most 255$/,
    );
    // 255 bytes is the limit in bytes, not characters.
    expect(() => buildDriverFilterWrite({ ...NONE, watchedPrefixes: [`/${"a".repeat(254)}`] })).not.toThrow();
    expect(errorOf({ ...NONE, watchedPrefixes: [`/${"é".repeat(128)}`] })).toContain("is 257 bytes long");
    expect(errorOf({ ...NONE, allowExecutables: ["cron"] })).toBe(
      'allow-listed executable 0 "cron" must be an absolute executable path or "<dev>:<ino>" (decimal, dev < 2^32, 0 < ino < 2^64)',
    );
    expect(errorOf({ ...NONE, allowExecutables: ["4294967296:1"] })).toContain('"4294967296:1" must be');
    expect(errorOf({ ...NONE, allowExecutables: ["8:0"] })).toContain('"8:0" must be');
    expect(errorOf({ ...NONE, allowExecutables: ["8:18446744073709551616"] })).toContain("must be");
    expect(() =>
      buildDriverFilterWrite({ ...NONE, allowExecutables: ["4294967295:18446744073709551615"] }),
    ).not.toThrow();
    expect(errorOf({ ...NONE, disabledHooks: ["exce"] })).toMatch(
      /^hook "exce" cannot be switched off; one of exec, fork, exit, /,
    );
  });

  test("the driver's accounting and tamper records cannot be switched off", () => {
    for (const hook of ["dropped", "stats", "device_opened", "integrity", "all"]) {
      expect(errorOf({ ...NONE, disabledHooks: [hook] })).toContain("cannot be switched off");
    }
  });

  test("count limits: 64 watched prefixes, 64 allow-listed executables", () => {
    const prefixes = (n: number) => Array.from({ length: n }, (_, i) => `/p${i}/`);
    expect(() => buildDriverFilterWrite({ ...NONE, watchedPrefixes: prefixes(64) })).not.toThrow();
    expect(errorOf({ ...NONE, watchedPrefixes: prefixes(65) })).toBe(
      "65 watched prefixes; the driver takes at most 64",
    );
    const ids = (n: number) => Array.from({ length: n }, (_, i) => `8:${i + 1}`);
    expect(() => buildDriverFilterWrite({ ...NONE, allowExecutables: ids(64) })).not.toThrow();
    expect(errorOf({ ...NONE, allowExecutables: ids(65) })).toBe(
      "65 allow-listed executables; the driver takes at most 64",
    );
  });

  test("the one write stays within the driver's 16 KiB", () => {
    const long = (i: number) => `/${String(i).padStart(2, "0")}${"x".repeat(252)}`;
    const prefixes = Array.from({ length: 62 }, (_, i) => long(i));
    // 62 × 262 bytes of watch lines + 42 fixed bytes, then one allow-exe line to reach the limit exactly.
    expect(Buffer.byteLength(buildDriverFilterWrite({ ...NONE, watchedPrefixes: prefixes }))).toBe(16_286);
    const exe = (chars: number) => `/${"e".repeat(chars - 1)}`; // "allow-exe " + path + "\n"
    const atLimit = { ...NONE, watchedPrefixes: prefixes, allowExecutables: [exe(87)] };
    expect(Buffer.byteLength(buildDriverFilterWrite(atLimit))).toBe(16_384);
    expect(errorOf({ ...atLimit, allowExecutables: [exe(88)] })).toBe(
      "the filters make 16385 bytes of driver commands; the driver takes at most 16384 in one write: use fewer or shorter prefixes and paths",
    );
  });

  test("the policy's command byte count (server-side check) is exactly the write's size", () => {
    const path = fc
      .array(fc.constantFrom("a", "b", "/", "é", " ", "_"), { minLength: 0, maxLength: 40 })
      .map((chars) => `/${chars.join("")}`);
    const devIno = fc
      .tuple(fc.integer({ min: 0, max: 0xffff_ffff }), fc.bigInt({ min: 1n, max: (1n << 64n) - 1n }))
      .map(([dev, ino]) => `${dev}:${ino}`);
    fc.assert(
      fc.property(
        fc.uniqueArray(path, { maxLength: 10 }),
        fc.uniqueArray(fc.oneof(path, devIno), { maxLength: 10 }),
        fc.uniqueArray(fc.constantFrom(...SWITCHABLE_DRIVER_HOOKS), { maxLength: 5 }),
        (watchedPrefixes, allowExecutables, disabledHooks) => {
          const filters = { watchedPrefixes, allowExecutables, disabledHooks };
          expect(driverPolicyCommandBytes(filters)).toBe(Buffer.byteLength(buildDriverFilterWrite(filters)));
        },
      ),
    );
  });

  test("the hooks a policy may switch off are the shared list (common DRIVER_HOOK_NAMES)", () => {
    expect([...SWITCHABLE_DRIVER_HOOKS]).toEqual([...DRIVER_HOOK_NAMES]);
  });

  test("the hook mask the STATS record must show afterwards", () => {
    const all = ((1n << BigInt(VIGIL_TYPE_MAX + 1)) - 1n) & ~1n; // "hook all on": bits 1..VIGIL_TYPE_MAX
    expect(enabledHookMask([])).toBe(all);
    expect(enabledHookMask(["fork", "dns"])).toBe(
      all & ~(1n << BigInt(T.FORK)) & ~(1n << BigInt(T.DNS_QUERY)),
    );
  });

  test("allow-listed paths not on this host are set apart; dev:ino entries are kept", () => {
    const here = new Set(["/usr/sbin/cron"]);
    expect(
      partitionAllowExecutables(["/usr/sbin/cron", "/opt/not-here", "8:42"], (path) => here.has(path)),
    ).toEqual({ present: ["/usr/sbin/cron", "8:42"], missing: ["/opt/not-here"] });
    expect(partitionAllowExecutables(["/bin/sh", "/proc", "/nonexistent/x"])).toEqual({
      present: ["/bin/sh"],
      missing: ["/proc", "/nonexistent/x"],
    });
  });
});
