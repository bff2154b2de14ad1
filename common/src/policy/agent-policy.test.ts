import { loadConfig } from "../config/load-config";
import { isVigilError } from "../errors";
import {
  AGENT_SETTING_KEYS,
  agentPolicySchema,
  encodeAgentSettings,
  MAX_SETTING_VALUE_BYTES,
  parseAgentSettings,
} from "./agent-policy";

function configError(value: unknown): string {
  try {
    loadConfig(agentPolicySchema, { envPrefix: "X_", env: {}, overrides: value as Record<string, unknown> });
  } catch (error) {
    expect(isVigilError(error)).toBe(true);
    return (error as Error).message;
  }
  throw new Error("expected an invalid policy");
}

describe("agent policy - config schema, ConfigUpdate settings", () => {
  test("a policy from YAML: duplicates dropped, unset lists stay unset", () => {
    expect(
      agentPolicySchema.parse({
        driver: {
          watchedPrefixes: ["/etc/", "/srv/", "/etc/"],
          allowExecutables: ["/usr/sbin/cron", "8:42"],
        },
      }),
    ).toEqual({
      driver: { watchedPrefixes: ["/etc/", "/srv/"], allowExecutables: ["/usr/sbin/cron", "8:42"] },
    });
    expect(agentPolicySchema.parse({})).toEqual({ driver: {} });
  });

  test("lists from the environment are comma-separated", () => {
    const policy = loadConfig(agentPolicySchema, {
      envPrefix: "VIGIL_SERVER_AGENT_POLICY__",
      env: {
        VIGIL_SERVER_AGENT_POLICY__DRIVER__WATCHED_PREFIXES: "/etc/,/root/",
        VIGIL_SERVER_AGENT_POLICY__DRIVER__DISABLED_HOOKS: "fork,exit",
      },
    });
    expect(policy.driver).toEqual({ watchedPrefixes: ["/etc/", "/root/"], disabledHooks: ["fork", "exit"] });
  });

  test("a bad value stops with an error naming the key, the entry and what is wrong", () => {
    expect(configError({ driver: { watchedPrefixes: ["/etc/", "var/log/"] } })).toContain(
      'driver.watchedPrefixes.1: "var/log/" must be an absolute path (start with /)',
    );
    expect(configError({ driver: { allowExecutables: ["cron"] } })).toContain(
      'driver.allowExecutables.0: "cron" must be an absolute executable path or "<dev>:<ino>"',
    );
    expect(configError({ driver: { disabledHooks: ["exce"] } })).toContain(
      'driver.disabledHooks.0: "exce" is not a driver hook a policy can switch off; one of exec, fork,',
    );
    expect(configError({ driver: { disabledHooks: ["stats"] } })).toContain("driver.disabledHooks.0");
    expect(configError({ driver: { watchedPrefix: ["/etc/"] } })).toContain("driver: Unrecognized key");
    expect(
      configError({ driver: { watchedPrefixes: Array.from({ length: 65 }, (_, i) => `/p${i}/`) } }),
    ).toContain("driver.watchedPrefixes: at most 64 watched prefixes (the driver's limit)");
    expect(
      configError({ driver: { allowExecutables: Array.from({ length: 65 }, (_, i) => `8:${i + 1}`) } }),
    ).toContain("driver.allowExecutables: at most 64 allow-listed executables");
    const long = Array.from({ length: 64 }, (_, i) => `/${String(i).padStart(2, "0")}${"x".repeat(252)}`);
    expect(configError({ driver: { watchedPrefixes: long } })).toContain(
      "driver: these filters make 16810 bytes of driver commands; the driver takes at most 16384",
    );
  });

  test("settings round trip: each set list is a JSON array under its key", () => {
    const policy = agentPolicySchema.parse({
      driver: { watchedPrefixes: ["/etc/"], allowExecutables: ["/bin/a,b"], disabledHooks: [] },
    });
    const settings = encodeAgentSettings(policy);
    expect(settings).toEqual({
      [AGENT_SETTING_KEYS.driverWatchedPrefixes]: '["/etc/"]',
      [AGENT_SETTING_KEYS.driverAllowExecutables]: '["/bin/a,b"]',
      [AGENT_SETTING_KEYS.driverDisabledHooks]: "[]",
    });
    expect(parseAgentSettings(settings)).toEqual({ policy, ignoredKeys: [], errors: [] });
    expect(parseAgentSettings({})).toEqual({ policy: { driver: {} }, ignoredKeys: [], errors: [] });
  });

  test("unknown keys are reported and ignored; the known ones still count", () => {
    expect(
      parseAgentSettings({ "driver.watchedPrefixes": '["/etc/"]', "procfs.intervalMs": "1000" }),
    ).toEqual({
      policy: { driver: { watchedPrefixes: ["/etc/"] } },
      ignoredKeys: ["procfs.intervalMs"],
      errors: [],
    });
  });

  test("bad values reject the update with one message per problem, naming the key", () => {
    expect(parseAgentSettings({ "driver.watchedPrefixes": "/etc/" })).toEqual({
      policy: undefined,
      ignoredKeys: [],
      errors: ['driver.watchedPrefixes: must be a JSON array of strings, got "/etc/"'],
    });
    expect(parseAgentSettings({ "driver.disabledHooks": "[1]" }).errors).toEqual([
      'driver.disabledHooks: must be a JSON array of strings, got "[1]"',
    ]);
    expect(
      parseAgentSettings({
        "driver.watchedPrefixes": '["/etc/","tmp"]',
        "driver.disabledHooks": '["fork","nope"]',
      }).errors,
    ).toEqual([
      'driver.watchedPrefixes[1]: "tmp" must be an absolute path (start with /)',
      expect.stringMatching(/^driver\.disabledHooks\[1\]: "nope" is not a driver hook/),
    ]);
    expect(
      parseAgentSettings({ "driver.allowExecutables": JSON.stringify(["x".repeat(MAX_SETTING_VALUE_BYTES)]) })
        .errors,
    ).toEqual([`driver.allowExecutables: value is longer than ${MAX_SETTING_VALUE_BYTES} bytes`]);
    const many = JSON.stringify(Array.from({ length: 65 }, (_, i) => `/p${i}/`));
    expect(parseAgentSettings({ "driver.watchedPrefixes": many }).errors).toEqual([
      "driver.watchedPrefixes: at most 64 watched prefixes (the driver's limit)",
    ]);
  });

  test("live agent settings: batch, limits and log level as plain values, round trip, bad values named", () => {
    const policy = agentPolicySchema.parse({
      batch: { maxEvents: 200, flushIntervalMs: 50 },
      limits: { cpuPercent: 12.5, rssBytes: 64 * 1024 * 1024 },
      log: { level: "debug" },
    });
    const settings = encodeAgentSettings(policy);
    expect(settings).toEqual({
      "batch.maxEvents": "200",
      "batch.flushIntervalMs": "50",
      "limits.cpuPercent": "12.5",
      "limits.rssBytes": String(64 * 1024 * 1024),
      "log.level": "debug",
    });
    expect(parseAgentSettings(settings)).toEqual({ policy, ignoredKeys: [], errors: [] });
    expect(parseAgentSettings({ "limits.rssBytes": "0" }).policy).toEqual({
      driver: {},
      limits: { rssBytes: 0 },
    });
    const bad = parseAgentSettings({
      "batch.maxEvents": "0",
      "batch.flushIntervalMs": "",
      "limits.cpuPercent": "0x10",
      "limits.rssBytes": "1000",
      "log.level": "loud",
      "log.format": "json",
    });
    expect(bad.policy).toBeUndefined();
    expect(bad.ignoredKeys).toEqual(["log.format"]);
    expect(bad.errors).toEqual([
      expect.stringMatching(/^batch\.flushIntervalMs: must be a decimal number/),
      expect.stringMatching(/^limits\.cpuPercent: must be a decimal number/),
      expect.stringMatching(/^batch\.maxEvents: /),
      expect.stringMatching(/^limits\.rssBytes: must be 0 \(no limit\) or at least/),
      expect.stringMatching(/^log\.level: /),
    ]);
  });
});
