import { isVigilError, silentLogger } from "@vigil/common";
import { resolveFtraceOptions } from "./resolve-options";

describe("ftrace options", () => {
  const logger = silentLogger();

  it("ftrace options - defaults are applied", () => {
    const resolved = resolveFtraceOptions({ logger });
    expect(resolved.pollIntervalMs).toBe(10);
    expect(resolved.sensitivePaths).toEqual(["/etc/shadow", "/etc/gshadow", "/etc/sudoers", "/root/.ssh/"]);
  });

  it("ftrace options - bad values fail with CONFIG_INVALID naming the key", () => {
    expect(() => resolveFtraceOptions({ logger, pollIntervalMs: 0 })).toThrow(/ftrace.pollIntervalMs/);
    expect(() => resolveFtraceOptions({ logger, argvSlots: 100 })).toThrow(/ftrace.argvSlots/);
    expect(() => resolveFtraceOptions({ logger, sensitivePaths: ["etc/shadow"] })).toThrow(/not absolute/);
    let failure: unknown;
    try {
      resolveFtraceOptions({ logger, sensitivePaths: ['/x"y'] });
    } catch (error) {
      failure = error;
    }
    expect(isVigilError(failure, "VIGIL_ERR_CONFIG_INVALID")).toBe(true);
  });
});
