import { loadAgentConfig } from "../config";

describe("discovery config", () => {
  test("discovery config - static by default, with the servers list", () => {
    const config = loadAgentConfig({ env: {} });
    expect(config.discovery.mode).toBe("static");
    expect(config.discovery.consul.service).toBe("vigil-server");
    expect(config.discovery.rebalanceMinMs).toBeLessThanOrEqual(config.discovery.rebalanceMaxMs);
  });

  test("discovery config - consul from the environment", () => {
    const config = loadAgentConfig({
      env: {
        VIGIL_AGENT_DISCOVERY__MODE: "consul",
        VIGIL_AGENT_DISCOVERY__CONSUL__ADDRESS: "https://consul.example:8501",
        VIGIL_AGENT_DISCOVERY__CONSUL__TAGS: "grpc,eu",
        VIGIL_AGENT_DISCOVERY__CONSUL__FALLBACK_SERVERS: "127.0.0.1:7443",
      },
    });
    expect(config.discovery.consul).toMatchObject({
      address: "https://consul.example:8501",
      tags: ["grpc", "eu"],
      fallbackServers: ["127.0.0.1:7443"],
    });
  });

  test("discovery config - clear errors naming the key", () => {
    expect(() => loadAgentConfig({ env: { VIGIL_AGENT_DISCOVERY__MODE: "zookeeper" } })).toThrow(
      /discovery\.mode/,
    );
    expect(() => loadAgentConfig({ env: { VIGIL_AGENT_DISCOVERY__MODE: "dns" } })).toThrow(
      /discovery\.dns\.name: required when discovery\.mode is dns/,
    );
    expect(() =>
      loadAgentConfig({
        env: {},
        overrides: { discovery: { rebalanceMinMs: 10_000, rebalanceMaxMs: 5000 } },
      }),
    ).toThrow(/discovery\.rebalanceMaxMs: must be at least/);
    expect(() =>
      loadAgentConfig({
        env: {},
        overrides: { discovery: { mode: "consul", consul: { fallbackServers: ["10.0.0.1:7443"] } } },
      }),
    ).toThrow(/discovery\.consul\.fallbackServers\.0: 10\.0\.0\.1:7443 is not on loopback/);
    expect(() =>
      loadAgentConfig({ env: {}, overrides: { discovery: { consul: { address: "::nonsense::" } } } }),
    ).toThrow(/discovery\.consul\.address/);
  });
});
