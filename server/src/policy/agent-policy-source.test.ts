import { isVigilError } from "@vigil/common";
import { loadServerConfig } from "../config";
import { AgentPolicySource } from "./agent-policy-source";

describe("agent policy source - versions pushed to agents", () => {
  test("the configured policy is version 1; replace() makes the next version and tells subscribers", () => {
    const source = new AgentPolicySource({ driver: { watchedPrefixes: ["/etc/"] } });
    expect(source.configUpdate()).toEqual({
      version: 1,
      settings: { "driver.watchedPrefixes": '["/etc/"]' },
    });
    const seen: number[] = [];
    const unsubscribe = source.subscribe((current) => seen.push(current.version));
    const next = source.replace({ driver: { disabledHooks: ["fork"] } });
    expect(next).toEqual({
      version: 2,
      policy: { driver: { disabledHooks: ["fork"] } },
      settings: { "driver.disabledHooks": '["fork"]' },
    });
    expect(seen).toEqual([2]);
    unsubscribe();
    source.replace({});
    expect(seen).toEqual([2]);
    expect(source.current().version).toBe(3);
  });

  test("an invalid policy is refused with the key named; the current version stays", () => {
    const source = new AgentPolicySource({ driver: {} });
    let error: unknown;
    try {
      source.replace({ driver: { watchedPrefixes: ["relative/"] } });
    } catch (caught) {
      error = caught;
    }
    expect(isVigilError(error, "VIGIL_ERR_CONFIG_INVALID")).toBe(true);
    expect((error as Error).message).toBe(
      'invalid agent policy: driver.watchedPrefixes.0: "relative/" must be an absolute path (start with /)',
    );
    expect(source.current().version).toBe(1);
  });

  test("server config: agentPolicy from the environment, bad values named at start", () => {
    const config = loadServerConfig({
      env: {
        VIGIL_SERVER_AGENT_POLICY__DRIVER__WATCHED_PREFIXES: "/etc/,/srv/",
        VIGIL_SERVER_AGENT_POLICY__DRIVER__ALLOW_EXECUTABLES: "/usr/sbin/cron,2049:12",
      },
    });
    expect(config.agentPolicy).toEqual({
      driver: { watchedPrefixes: ["/etc/", "/srv/"], allowExecutables: ["/usr/sbin/cron", "2049:12"] },
    });
    expect(loadServerConfig({ env: {} }).agentPolicy).toEqual({ driver: {} });
    expect(() =>
      loadServerConfig({ env: { VIGIL_SERVER_AGENT_POLICY__DRIVER__DISABLED_HOOKS: "exec,stats" } }),
    ).toThrow(/agentPolicy\.driver\.disabledHooks\.1: "stats" is not a driver hook a policy can switch off/);
  });
});
