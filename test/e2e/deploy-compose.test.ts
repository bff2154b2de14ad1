import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { loadAgentConfig } from "@vigil/agent";
import { loadHubConfig } from "@vigil/hub";
import { loadServerConfig } from "@vigil/server";
import Ajv from "ajv";
import YAML from "yaml";

// docker-compose.yml cannot be run here (no Docker engine), so everything that
// can be checked without one is: the Compose schema, the Dockerfile the Vigil
// services are built from, each Vigil service's config file and environment
// loaded by the programs' own loaders, and ports, health checks, start order
// and certificates matched to what the programs really do.

const ROOT = join(__dirname, "..", "..");
const COMPOSE_FILE = join(ROOT, "docker-compose.yml");
const ENV_EXAMPLE = join(ROOT, "deploy", ".env.example");

interface Service {
  image?: string;
  build?: { context: string; dockerfile: string };
  command?: string[];
  entrypoint?: string[];
  user?: string;
  privileged?: boolean;
  pid?: string;
  hostname?: string;
  restart?: string;
  environment?: Record<string, string>;
  volumes?: string[];
  ports?: string[];
  expose?: string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
}

const composeText = readFileSync(COMPOSE_FILE, "utf8");
const compose = YAML.parse(composeText, { merge: true }) as { services: Record<string, Service> };
const services = compose.services;
const VIGIL_SERVERS = ["vigil-server-1", "vigil-server-2"];
const VIGIL_HUBS = ["vigil-hub-1", "vigil-hub-2"];

/** deploy/.env.example as docker compose would read the copy in .env. */
const exampleEnv = Object.fromEntries(
  readFileSync(ENV_EXAMPLE, "utf8")
    .split("\n")
    .filter((line) => /^[A-Z_]+=/.test(line))
    .map((line) => [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)]),
);

/** ${VAR}, ${VAR:-default}, ${VAR:?message} replaced as docker compose does with the example .env. */
function interpolate(value: string): string {
  return value.replace(
    /\$\{([A-Z_]+)(?::([-?])([^}]*))?\}/g,
    (_whole, name: string, kind?: string, rest?: string) => {
      const found = exampleEnv[name];
      if (found !== undefined && found !== "") return found;
      if (kind === "-") return rest ?? "";
      throw new Error(`docker-compose.yml uses \${${name}} but deploy/.env.example does not set it`);
    },
  );
}

function environmentOf(name: string): NodeJS.ProcessEnv {
  const environment = services[name]?.environment ?? {};
  return Object.fromEntries(
    Object.entries(environment).map(([key, value]) => [key, interpolate(String(value))]),
  );
}

/** The host file a service mounts at `target` ("./src:target[:ro]"). */
function mountedFile(name: string, target: string): string {
  for (const volume of services[name]?.volumes ?? []) {
    const [source, destination] = volume.split(":");
    if (destination === target && source.startsWith("./")) return join(ROOT, source);
  }
  throw new Error(`${name} mounts nothing from the repository at ${target}`);
}

/** The container path a named volume is mounted at. */
function volumeTarget(name: string, volume: string): string | undefined {
  return (services[name]?.volumes ?? [])
    .map((entry) => entry.split(":"))
    .find(([source]) => source === volume)?.[1];
}

/** The config file a Vigil service runs with: `<program> --config <path>`. */
function configFileOf(name: string): string {
  const command = services[name]?.command ?? [];
  expect(command[1]).toBe("--config");
  const file = mountedFile(name, command[2]);
  expect(statSync(file).isFile()).toBe(true);
  return file;
}

/** Container ports a service publishes or exposes. */
function containerPorts(name: string): number[] {
  const published = (services[name]?.ports ?? []).map((port) =>
    Number(port.split(":").at(-1)?.split("/")[0]),
  );
  return [...published, ...(services[name]?.expose ?? []).map(Number)];
}

/** The URL a Vigil service's health check fetches. */
function healthUrl(name: string): URL {
  const test = services[name]?.healthcheck?.test ?? [];
  const match = /fetch\('([^']+)'\)/.exec(test.join(" "));
  if (!match) throw new Error(`${name} has no fetch() health check`);
  return new URL(match[1]);
}

function hostOf(address: string): string {
  return new URL(address.includes("://") ? address : `tcp://${address}`).hostname;
}

describe("deploy - docker-compose.yml is a valid Compose file", () => {
  const { $schema, ...schema } = JSON.parse(
    readFileSync(join(ROOT, "test", "fixtures", "compose-spec", "compose-spec.json"), "utf8"),
  );
  // Draft-07, which is ajv's default; ajv knows it by its http:// id only.
  expect($schema).toBe("https://json-schema.org/draft-07/schema");
  const validate = new Ajv({ strict: false, allErrors: true }).compile(schema);

  test("deploy-compose - docker-compose.yml validates against the Compose specification's schema", () => {
    // Validated as written (anchors and merge keys resolved, ${VAR} left as docker compose sees them first).
    const valid = validate(compose);
    expect(validate.errors ?? []).toEqual([]);
    expect(valid).toBe(true);
  });

  test("deploy-compose - the schema refuses a misspelt key (the check above can fail)", () => {
    const broken = structuredClone(compose) as { services: Record<string, Record<string, unknown>> };
    broken.services.nats.healtcheck = broken.services.nats.healthcheck;
    expect(validate(broken)).toBe(false);
    expect(JSON.stringify(validate.errors)).toContain("healtcheck");
  });

  test("deploy-compose - the full stack: Consul, NATS, Elasticsearch, Kibana, two servers, two hubs, an agent", () => {
    expect(Object.keys(services).sort()).toEqual(
      [
        "consul",
        "es01",
        "kibana",
        "kibana-import",
        "nats",
        "setup",
        "vigil-agent",
        ...VIGIL_HUBS,
        ...VIGIL_SERVERS,
      ].sort(),
    );
    // JetStream keeps its store on a named volume.
    expect(services.nats.volumes).toContain("nats-data:/var/lib/nats");
    expect(mountedFile("nats", "/etc/nats/nats-server.conf")).toBe(
      join(ROOT, "deploy", "nats", "nats-server.conf"),
    );
    expect(services.es01.environment?.["xpack.security.enabled"]).toBe("true");
  });

  test("deploy-compose - start order: every dependency exists and can meet its condition", () => {
    for (const [name, service] of Object.entries(services)) {
      for (const [dependency, { condition }] of Object.entries(service.depends_on ?? {})) {
        const target = services[dependency];
        expect({ name, dependency, exists: target !== undefined }).toEqual({
          name,
          dependency,
          exists: true,
        });
        if (condition === "service_healthy")
          expect({ dependency, health: (target.healthcheck?.test?.length ?? 0) > 0 }).toEqual({
            dependency,
            health: true,
          });
        if (condition === "service_completed_successfully")
          expect({ dependency, restart: target.restart }).toEqual({ dependency, restart: "no" });
      }
    }
    // Vigil services start only once what they talk to is healthy.
    for (const name of VIGIL_SERVERS) {
      expect(services[name].depends_on).toMatchObject({
        nats: { condition: "service_healthy" },
        consul: { condition: "service_healthy" },
        setup: { condition: "service_completed_successfully" },
      });
    }
    for (const name of VIGIL_HUBS) {
      expect(services[name].depends_on).toMatchObject({
        nats: { condition: "service_healthy" },
        es01: { condition: "service_healthy" },
      });
    }
    expect(services["kibana-import"].depends_on).toEqual({ kibana: { condition: "service_healthy" } });
  });

  test("deploy-compose - every secret comes from .env, and every .env.example entry is used", () => {
    const used = new Set([...composeText.matchAll(/\$\{([A-Z_]+)/g)].map((match) => match[1]));
    expect([...used].filter((name) => !(name in exampleEnv))).toEqual([]);
    expect(Object.keys(exampleEnv).filter((name) => !used.has(name))).toEqual([]);
    for (const service of Object.values(services)) {
      for (const [key, value] of Object.entries(service.environment ?? {})) {
        if (/TOKEN|PASSWORD/.test(key))
          expect({ key, value }).toEqual({ key, value: expect.stringMatching(/^\$\{/) });
      }
    }
  });
});

describe("deploy - docker-compose.yml's Vigil services run real configurations", () => {
  const certs = YAML.parse(readFileSync(join(ROOT, "deploy", "compose", "certs-instances.yml"), "utf8")) as {
    instances: Array<{ name: string; dns: string[] }>;
  };
  const serverCertNames = certs.instances.find((instance) => instance.name === "vigil-server")?.dns ?? [];

  test("deploy-compose - every Vigil service is built from the root Dockerfile and runs a vigil program", () => {
    for (const name of [...VIGIL_SERVERS, ...VIGIL_HUBS, "vigil-agent"]) {
      const service = services[name];
      expect(service.build).toEqual({ context: ".", dockerfile: "Dockerfile" });
      expect(existsSync(join(ROOT, service.build?.context ?? "", service.build?.dockerfile ?? ""))).toBe(
        true,
      );
      const program = name.replace(/^vigil-/, "").replace(/-\d$/, "");
      expect(service.command?.[0]).toBe(program);
    }
  });

  test.each(VIGIL_SERVERS)(
    "deploy-compose - %s: config file + environment load; ports, health check, Consul and TLS match",
    (name) => {
      const config = loadServerConfig({ file: configFileOf(name), env: environmentOf(name) });
      expect(config.serverId).toBe(name);
      expect(containerPorts(name)).toEqual(expect.arrayContaining([config.grpc.port, config.api.port]));
      const health = healthUrl(name);
      expect([health.pathname, Number(health.port)]).toEqual(["/readyz", config.api.port]);
      // Agents dial what the server advertises in Consul, over TLS checked against that name.
      expect(config.consul).toMatchObject({ register: true, advertiseAddress: services[name].hostname });
      expect(serverCertNames).toContain(config.consul.advertiseAddress);
      expect(services[hostOf(config.consul.address ?? "")]).toBeDefined();
      const certsAt = volumeTarget(name, "certs");
      expect(config.grpc.tls?.certFile.startsWith(`${certsAt}/vigil-server/`)).toBe(true);
      expect(config.nats?.servers.map(hostOf)).toEqual(["nats"]);
      expect(config.alerts.elasticsearch?.nodes.map(hostOf)).toEqual(["es01"]);
      expect(config.alerts.elasticsearch?.auth).toEqual({
        username: "vigil_server",
        password: expect.any(String),
      });
    },
  );

  test("deploy-compose - the two servers publish different host ports", () => {
    const hostPorts = VIGIL_SERVERS.flatMap((name) =>
      (services[name].ports ?? []).map((port) => port.split(":").at(-2)),
    );
    expect(new Set(hostPorts).size).toBe(hostPorts.length);
  });

  test.each(VIGIL_HUBS)(
    "deploy-compose - %s: config file + environment load; health check on its metrics port",
    (name) => {
      const config = loadHubConfig({ file: configFileOf(name), env: environmentOf(name) });
      expect(config.hubId).toBe(name);
      const health = healthUrl(name);
      expect([health.pathname, Number(health.port)]).toEqual(["/healthz", config.metrics?.port]);
      expect(config.nats?.servers.map(hostOf)).toEqual(["nats"]);
      expect(config.elasticsearch?.nodes.map(hostOf)).toEqual(["es01"]);
      expect(config.elasticsearch).toMatchObject({ username: "vigil_hub", password: expect.any(String) });
      expect(config.elasticsearch?.caFile?.startsWith(`${volumeTarget(name, "certs")}/ca/`)).toBe(true);
    },
  );

  test("deploy-compose - vigil-agent: config file + environment load; finds the servers through Consul", () => {
    const name = "vigil-agent";
    const config = loadAgentConfig({ file: configFileOf(name), env: environmentOf(name) });
    expect(config.discovery.mode).toBe("consul");
    expect(services[hostOf(config.discovery.consul.address ?? "")]).toBeDefined();
    // The fallback list is the two compose servers on their gRPC port.
    const serverPort = loadServerConfig({
      file: configFileOf("vigil-server-1"),
      env: environmentOf("vigil-server-1"),
    }).grpc.port;
    expect(config.discovery.consul.fallbackServers).toEqual(
      VIGIL_SERVERS.map((server) => `${server}:${serverPort}`),
    );
    expect(config.tls?.caFile.startsWith(`${volumeTarget(name, "certs")}/ca/`)).toBe(true);
    expect(config.collectors).toEqual(["driver", "ftrace", "procfs"]);
    expect(config.collectorFallback).toBe(true);
    expect(config.stateDir).toBe(volumeTarget(name, "vigil-agent-state"));
    const health = healthUrl(name);
    expect([health.pathname, Number(health.port)]).toEqual(["/healthz", config.metrics?.port]);
    // Watching the docker host: root, privileged, the host's PID namespace and tracefs.
    expect(services[name]).toMatchObject({ user: "0", privileged: true, pid: "host" });
    expect(services[name].volumes).toContain("/sys/kernel/tracing:/sys/kernel/tracing");
    expect(services[name].depends_on).toMatchObject(
      Object.fromEntries(VIGIL_SERVERS.map((server) => [server, { condition: "service_healthy" }])),
    );
  });

  test("deploy-compose - a misspelt VIGIL_* variable is refused by the loaders (the checks above can fail)", () => {
    expect(() =>
      loadHubConfig({ file: configFileOf("vigil-hub-1"), env: { VIGIL_HUB_ELASTICSEARCH__PASWORD: "x" } }),
    ).toThrow(/PASWORD|pasword|Unrecognized/i);
  });

  test("deploy-compose - the setup and Kibana import scripts are valid bash", () => {
    for (const script of ["deploy/compose/setup-stack.sh", "deploy/kibana/import-saved-objects.sh"]) {
      const result = spawnSync("bash", ["-n", join(ROOT, script)], { encoding: "utf8" });
      expect({ script, status: result.status, stderr: result.stderr }).toEqual({
        script,
        status: 0,
        stderr: "",
      });
    }
    expect(mountedFile("setup", "/setup/setup-stack.sh")).toBe(
      join(ROOT, "deploy", "compose", "setup-stack.sh"),
    );
    expect(services["kibana-import"].entrypoint).toEqual(["bash", "/import/import-saved-objects.sh"]);
    expect(existsSync(join(mountedFile("kibana-import", "/import"), "vigil-saved-objects.ndjson"))).toBe(
      true,
    );
  });
});
