import { existsSync } from "node:fs";
import { isVigilError, silentLogger } from "@vigil/common";
import { agentConfigSchema } from "./config";
import { buildCollectors } from "./start-agent";

// On this host vigil.ko is not loaded (no /dev/vigil), so the default
// collector list must fall back to ftrace (tests run as root) and keep procfs.

describe("agent - collector selection", () => {
  beforeAll(() => {
    if (existsSync("/dev/vigil")) throw new Error("this test expects a host without vigil.ko loaded");
  });

  test("driver unavailable → ftrace is used, with procfs beside it; only one kernel source runs", async () => {
    const collectors = await buildCollectors(agentConfigSchema.parse({}), silentLogger());
    expect(collectors.map((collector) => collector.name)).toEqual(["ftrace", "procfs"]);
  });

  test("with fallback off, a missing driver is an error that says what to load", async () => {
    const config = agentConfigSchema.parse({ collectors: ["driver"], collectorFallback: false });
    const error = await buildCollectors(config, silentLogger()).catch((caught: unknown) => caught);
    expect(isVigilError(error, "VIGIL_ERR_COLLECTOR_UNAVAILABLE")).toBe(true);
    expect((error as Error).message).toContain("vigil.ko");
  });
});
