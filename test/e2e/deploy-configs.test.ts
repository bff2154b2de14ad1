import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { loadAgentConfig } from "@vigil/agent";
import { loadHubConfig } from "@vigil/hub";
import { DEFAULT_GRPC_PORT, loadServerConfig } from "@vigil/server";
import { findNatsServer } from "../harness/nats-server";

// The examples in deploy/ are what operators copy: every one of them is loaded
// here with the programs' real config loaders (and nats-server checks its own
// file), so a renamed or retyped key breaks this test instead of a rollout.

const DEPLOY = join(__dirname, "..", "..", "deploy");
const CONFIG_DIR = join(DEPLOY, "config");
const NO_ENV = {} as NodeJS.ProcessEnv;

describe("deploy - config examples load with the real config loaders", () => {
  test("deploy-configs - every file in deploy/config is checked below", () => {
    expect(readdirSync(CONFIG_DIR).sort()).toEqual(["agent.yaml", "hub.yaml", "server.yaml", "vigil.yaml"]);
  });

  test("deploy-configs - server.yaml: distributed server with TLS, agent token, API token and NATS token", () => {
    const config = loadServerConfig({ file: join(CONFIG_DIR, "server.yaml"), env: NO_ENV });
    expect(config.grpc).toMatchObject({
      host: "0.0.0.0",
      port: DEFAULT_GRPC_PORT,
      maxBatchBytes: 4 * 1024 * 1024,
    });
    expect(config.grpc.tls).toEqual({ certFile: expect.any(String), keyFile: expect.any(String) });
    expect(config.grpc.agentToken).toEqual(expect.any(String));
    expect(config.api.token).toEqual(expect.any(String));
    expect(config.nats).toMatchObject({ servers: ["nats://127.0.0.1:4222"], token: expect.any(String) });
  });

  test("deploy-configs - hub.yaml: distributed hub writing to Elasticsearch over TLS", () => {
    const config = loadHubConfig({ file: join(CONFIG_DIR, "hub.yaml"), env: NO_ENV });
    expect(config.nats).toMatchObject({ servers: ["nats://127.0.0.1:4222"], token: expect.any(String) });
    expect(config.elasticsearch).toMatchObject({
      nodes: ["https://127.0.0.1:9200"],
      apiKey: expect.any(String),
      caFile: expect.any(String),
    });
    expect(config.alertStorePath).toBeUndefined();
  });

  test("deploy-configs - agent.yaml: fleet agent with TLS to remote servers and a token", () => {
    const config = loadAgentConfig({ file: join(CONFIG_DIR, "agent.yaml"), env: NO_ENV });
    expect(config.servers.length).toBeGreaterThan(1);
    expect(config.tls?.caFile).toEqual(expect.any(String));
    expect(config.token).toEqual(expect.any(String));
    expect(config.collectors).toEqual(["driver", "ftrace", "procfs"]);
    expect(config.stateDir).toBe("/var/lib/vigil-agent");
  });

  test("deploy-configs - the environment still wins over the example files", () => {
    const config = loadServerConfig({
      file: join(CONFIG_DIR, "server.yaml"),
      env: { VIGIL_SERVER_GRPC__AGENT_TOKEN: "from-the-environment-0123" },
    });
    expect(config.grpc.agentToken).toBe("from-the-environment-0123");
  });

  test("deploy-configs - vigil.yaml: each section loads as `vigil start --config` loads it", () => {
    const file = join(CONFIG_DIR, "vigil.yaml");
    // The keys embedded mode sets itself (cli/src/commands/embedded.ts).
    const server = loadServerConfig({
      file,
      section: "server",
      env: NO_ENV,
      overrides: {
        grpc: { host: "127.0.0.1", agentToken: "embedded-token-0123456789" },
        alertStorePath: "/x.db",
      },
    });
    expect(server.api).toMatchObject({ host: "127.0.0.1", port: 8080 });
    expect(server.nats).toBeUndefined();
    const hub = loadHubConfig({ file, section: "hub", env: NO_ENV, overrides: { alertStorePath: "/x.db" } });
    expect(hub.nats).toBeUndefined();
    const agent = loadAgentConfig({
      file,
      section: "agent",
      env: NO_ENV,
      overrides: { servers: ["127.0.0.1:7443"], token: "embedded-token-0123456789", stateDir: "/tmp" },
    });
    expect(agent.collectors).toEqual(["driver", "ftrace", "procfs"]);
  });
});

describe("deploy - NATS and systemd", () => {
  const natsConf = join(DEPLOY, "nats", "nats-server.conf");

  test("deploy-nats - max_payload holds a full 4 MiB agent batch with room to spare", () => {
    const match = /^max_payload:\s*(\d+)\s*MB\s*$/m.exec(readFileSync(natsConf, "utf8"));
    expect(match).not.toBeNull();
    expect(Number(match?.[1]) * 1024 * 1024).toBeGreaterThan(
      loadServerConfig({ env: NO_ENV }).grpc.maxBatchBytes,
    );
  });

  test("deploy-nats - nats-server accepts nats-server.conf", () => {
    const result = spawnSync(findNatsServer(), ["-c", natsConf, "-t"], { encoding: "utf8", timeout: 10_000 });
    expect(`${result.stdout}${result.stderr}`).toContain("is valid");
    expect(result.status).toBe(0);
  });

  test.each([
    ["vigil-server", "server"],
    ["vigil-hub", "hub"],
    ["vigil-agent", "agent"],
  ])("deploy-systemd - %s.service runs `vigil %s --config` hardened", (unit, command) => {
    const text = readFileSync(join(DEPLOY, "systemd", `${unit}.service`), "utf8");
    expect(text).toMatch(
      new RegExp(
        // node, then (the agent) V8 heap flags, then the CLI.
        `^ExecStart=\\S+( --[a-z-]+=\\d+)* /opt/vigil/cli/dist/main\\.js ${command} --config /etc/vigil/${command}\\.yaml$`,
        "m",
      ),
    );
    for (const line of [
      "NoNewPrivileges=yes",
      "ProtectSystem=strict",
      "PrivateTmp=yes",
      "KillSignal=SIGTERM",
    ]) {
      expect(text).toContain(`\n${line}\n`);
    }
    expect(text).toMatch(/^ReadWritePaths=\/var\/lib\//m);
    expect(text).toContain(command === "agent" ? "\nUser=root\n" : "\nUser=vigil\n");
    if (command === "agent") expect(text).not.toMatch(/^ProtectKernelTunables=/m);
  });
});
