import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadAgentConfig } from "@vigil/agent";
import { loadHubConfig } from "@vigil/hub";
import { loadServerConfig } from "@vigil/server";
import YAML from "yaml";

// deploy/kubernetes cannot be applied here (no cluster): every manifest is
// validated against the Kubernetes schemas, the config maps are loaded by the
// programs' own loaders with the environment the pods get, and probes, ports,
// capabilities and Secrets are matched to what the programs and the docs say.

const ROOT = join(__dirname, "..", "..");
const DIR = join(ROOT, "deploy", "kubernetes");
const VALIDATOR = join(__dirname, "deploy-kubernetes-validate.mjs");

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: { name: string; key: string }; fieldRef?: { fieldPath: string } };
}
interface Probe {
  httpGet: { path: string; port: string };
}
interface Container {
  name: string;
  args: string[];
  env: EnvVar[];
  ports: Array<{ name: string; containerPort: number }>;
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  resources: { requests: Record<string, string>; limits: Record<string, string> };
  securityContext: {
    runAsUser?: number;
    privileged?: boolean;
    readOnlyRootFilesystem?: boolean;
    allowPrivilegeEscalation?: boolean;
    capabilities: { drop: string[]; add?: string[] };
  };
  volumeMounts: Array<{ name: string; mountPath: string; subPath?: string }>;
}
interface PodSpec {
  hostPID?: boolean;
  tolerations?: Array<{ operator: string }>;
  securityContext?: { runAsNonRoot?: boolean; runAsUser?: number };
  containers: Container[];
  volumes: Array<{
    name: string;
    configMap?: { name: string };
    secret?: { secretName: string };
    hostPath?: { path: string };
  }>;
}
interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
  spec?: { template?: { spec: PodSpec }; ports?: Array<{ port: number; targetPort: string }> };
  data?: Record<string, string>;
}

const files = readdirSync(DIR)
  .filter((file) => file.endsWith(".yaml") && file !== "kustomization.yaml")
  .sort();
const manifests = files.flatMap((file) =>
  YAML.parseAllDocuments(readFileSync(join(DIR, file), "utf8")).map((document) => ({
    source: file,
    object: document.toJS() as K8sObject,
  })),
);

function find(kind: string, name: string): K8sObject {
  const found = manifests.find(({ object }) => object.kind === kind && object.metadata.name === name)?.object;
  if (!found) throw new Error(`deploy/kubernetes has no ${kind} ${name}`);
  return found;
}

function podOf(kind: string, name: string): PodSpec {
  const spec = find(kind, name).spec?.template?.spec;
  if (!spec) throw new Error(`${kind} ${name} has no pod template`);
  return spec;
}

/** Runs the kubernetes-models validator on objects; one result per object. */
function validate(objects: Array<{ source: string; object: unknown }>) {
  const result = spawnSync(process.execPath, [VALIDATOR], {
    cwd: ROOT,
    input: JSON.stringify(objects),
    encoding: "utf8",
    timeout: 60_000,
  });
  if (result.status !== 0) {
    throw new Error(
      `${VALIDATOR} failed (${result.status}): ${result.stderr}\n(the dev dependency kubernetes-models is installed by npm install)`,
    );
  }
  return JSON.parse(result.stdout) as Array<{
    source: string;
    kind: string;
    name: string;
    error: string | null;
  }>;
}

/**
 * A program's config as its pod gets it: the config map file it mounts, and
 * its environment with Secrets and the downward API replaced by stand-ins.
 */
function podConfig(
  kind: string,
  name: string,
): { file: string; env: NodeJS.ProcessEnv; container: Container } {
  const pod = podOf(kind, name);
  const container = pod.containers[0];
  expect(container.args[1]).toBe("--config");
  const mount = container.volumeMounts.find((entry) => entry.mountPath === container.args[2]);
  const volume = pod.volumes.find((entry) => entry.name === mount?.name);
  const data = find("ConfigMap", volume?.configMap?.name ?? "").data ?? {};
  const text = data[mount?.subPath ?? ""];
  if (text === undefined) throw new Error(`${name}: ${container.args[2]} is not a key of its config map`);
  const file = join(tempDir, `${name}.yaml`);
  writeFileSync(file, text);
  const env: NodeJS.ProcessEnv = {};
  for (const variable of container.env) {
    const from = variable.valueFrom;
    env[variable.name] =
      variable.value ??
      (from?.secretKeyRef ? `secret-${from.secretKeyRef.key}-0123456789` : undefined) ??
      (from?.fieldRef?.fieldPath === "status.podIP" ? "10.0.0.7" : `${name}-5d8f7c9b4-x2x7q`);
  }
  return { file, env, container };
}

/** The container port a probe targets, by its name. */
function probePort(container: Container, probe: Probe | undefined): number | undefined {
  return container.ports.find((port) => port.name === probe?.httpGet.port)?.containerPort;
}

/** The path a volume is mounted at in the first container. */
function mountOf(
  pod: PodSpec,
  predicate: (volume: PodSpec["volumes"][number]) => boolean,
): string | undefined {
  const volume = pod.volumes.find(predicate);
  return pod.containers[0].volumeMounts.find((mount) => mount.name === volume?.name)?.mountPath;
}

let tempDir = "";
beforeAll(() => {
  tempDir = mkdtempSync(join(tmpdir(), "deploy-k8s-"));
});
afterAll(() => {
  rmSync(tempDir, { recursive: true, force: true });
});

describe("deploy - Kubernetes manifests", () => {
  test("deploy-kubernetes - every manifest validates against the Kubernetes schemas", () => {
    const results = validate(manifests);
    expect(results.filter((result) => result.error !== null)).toEqual([]);
    expect(results.map((result) => `${result.kind}/${result.name}`).sort()).toEqual(
      [
        "ConfigMap/vigil-agent",
        "ConfigMap/vigil-hub",
        "ConfigMap/vigil-server",
        "DaemonSet/vigil-agent",
        "Deployment/vigil-hub",
        "Deployment/vigil-server",
        "Namespace/vigil",
        "NetworkPolicy/vigil-agent",
        "NetworkPolicy/vigil-hub",
        "NetworkPolicy/vigil-server",
        "Service/consul",
        "Service/elasticsearch",
        "Service/nats",
        "Service/vigil-hub",
        "Service/vigil-server",
      ].sort(),
    );
    for (const { object } of manifests) {
      if (object.kind !== "Namespace") expect(object.metadata.namespace).toBe("vigil");
    }
  });

  test("deploy-kubernetes - the validator refuses a wrong type (the check above can fail)", () => {
    const broken = structuredClone(find("DaemonSet", "vigil-agent")) as unknown as {
      spec: { template: { spec: { containers: Array<{ ports: Array<{ containerPort: unknown }> }> } } };
    };
    broken.spec.template.spec.containers[0].ports[0].containerPort = "metrics";
    const [result] = validate([{ source: "broken", object: broken }]);
    expect(result.error).toMatch(/containerPort must be integer/);
  });

  test("deploy-kubernetes - kustomization.yaml applies every manifest file", () => {
    const kustomization = YAML.parse(readFileSync(join(DIR, "kustomization.yaml"), "utf8")) as {
      resources: string[];
    };
    expect([...kustomization.resources].sort()).toEqual(files);
  });

  test("deploy-kubernetes - vigil-server: the config map loads; probes, ports and TLS files match", () => {
    const { file, env, container } = podConfig("Deployment", "vigil-server");
    const config = loadServerConfig({ file, env });
    const pod = podOf("Deployment", "vigil-server");
    expect(config.serverId).toBe("vigil-server-5d8f7c9b4-x2x7q");
    expect(container.readinessProbe?.httpGet.path).toBe("/readyz");
    expect(container.livenessProbe?.httpGet.path).toBe("/healthz");
    expect(probePort(container, container.readinessProbe)).toBe(config.api.port);
    expect(probePort(container, container.livenessProbe)).toBe(config.api.port);
    expect(container.ports.map((port) => port.containerPort).sort()).toEqual(
      [config.grpc.port, config.api.port].sort(),
    );
    const tlsAt = mountOf(pod, (volume) => volume.secret?.secretName === "vigil-server-tls");
    expect(config.grpc.tls).toEqual({ certFile: `${tlsAt}/tls.crt`, keyFile: `${tlsAt}/tls.key` });
    const caAt = mountOf(pod, (volume) => volume.secret?.secretName === "vigil-ca");
    expect(config.alerts.elasticsearch?.caFile).toBe(`${caAt}/elasticsearch-ca.crt`);
    // Each pod advertises its own IP in Consul.
    expect(config.consul).toMatchObject({
      register: true,
      advertiseAddress: "10.0.0.7",
      advertisePort: config.grpc.port,
    });
    const service = find("Service", "vigil-server");
    expect(service.spec?.ports?.map((port) => port.targetPort).sort()).toEqual(["api", "grpc"]);
  });

  test("deploy-kubernetes - vigil-hub: the config map loads; probes on the metrics port it listens on", () => {
    const { file, env, container } = podConfig("Deployment", "vigil-hub");
    const config = loadHubConfig({ file, env });
    expect(config.metrics).toEqual({ host: "0.0.0.0", port: 9464 });
    for (const probe of [container.readinessProbe, container.livenessProbe]) {
      expect(probe?.httpGet.path).toBe("/healthz");
      expect(probePort(container, probe)).toBe(config.metrics?.port);
    }
    const caAt = mountOf(
      podOf("Deployment", "vigil-hub"),
      (volume) => volume.secret?.secretName === "vigil-ca",
    );
    expect(config.elasticsearch?.caFile).toBe(`${caAt}/elasticsearch-ca.crt`);
    expect(config.elasticsearch).toMatchObject({ username: "vigil_hub", password: expect.any(String) });
  });

  test("deploy-kubernetes - vigil-agent: the config map loads; it dials the server Service over TLS", () => {
    const { file, env, container } = podConfig("DaemonSet", "vigil-agent");
    const config = loadAgentConfig({ file, env });
    const serverService = find("Service", "vigil-server");
    const grpcPort = serverService.spec?.ports?.find((port) => port.targetPort === "grpc")?.port;
    expect(config.servers).toEqual([`vigil-server.vigil.svc:${grpcPort}`]);
    const pod = podOf("DaemonSet", "vigil-agent");
    expect(config.tls?.caFile).toBe(
      `${mountOf(pod, (volume) => volume.secret?.secretName === "vigil-ca")}/server-ca.crt`,
    );
    expect(config.stateDir).toBe(mountOf(pod, (volume) => volume.hostPath?.path === "/var/lib/vigil-agent"));
    expect(config.metrics?.host).toBe("0.0.0.0");
    expect(probePort(container, container.livenessProbe)).toBe(config.metrics?.port);
  });

  test("deploy-kubernetes - the agent: host PID, every node, root with exactly the systemd unit's capabilities", () => {
    const pod = podOf("DaemonSet", "vigil-agent");
    expect(pod.hostPID).toBe(true);
    expect(pod.tolerations).toContainEqual({ operator: "Exists" });
    const security = pod.containers[0].securityContext;
    expect(security).toMatchObject({ runAsUser: 0, privileged: false, allowPrivilegeEscalation: false });
    const unit = readFileSync(join(ROOT, "deploy", "systemd", "vigil-agent.service"), "utf8");
    const unitCapabilities = (/^CapabilityBoundingSet=(.+)$/m.exec(unit)?.[1] ?? "")
      .split(/\s+/)
      .map((capability) => capability.replace(/^CAP_/, ""));
    expect(security.capabilities.drop).toEqual(["ALL"]);
    expect([...(security.capabilities.add ?? [])].sort()).toEqual(unitCapabilities.sort());
    const hostPaths = Object.fromEntries(
      pod.volumes
        .filter((volume) => volume.hostPath)
        .map((volume) => [volume.hostPath?.path, mountOf(pod, (entry) => entry.name === volume.name)]),
    );
    expect(hostPaths).toMatchObject({
      "/sys/kernel/tracing": "/sys/kernel/tracing",
      "/sys/kernel/debug": "/sys/kernel/debug",
    });
  });

  test("deploy-kubernetes - server and hub run as the image's non-root user, read-only, with requests and limits", () => {
    const dockerfile = readFileSync(join(ROOT, "Dockerfile"), "utf8");
    const imageUid = Number(/useradd --system --uid (\d+)/.exec(dockerfile)?.[1]);
    for (const name of ["vigil-server", "vigil-hub"]) {
      const pod = podOf("Deployment", name);
      expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: imageUid });
      expect(pod.containers[0].securityContext).toMatchObject({
        readOnlyRootFilesystem: true,
        allowPrivilegeEscalation: false,
        capabilities: { drop: ["ALL"] },
      });
    }
    for (const [kind, name] of [
      ["Deployment", "vigil-server"],
      ["Deployment", "vigil-hub"],
      ["DaemonSet", "vigil-agent"],
    ]) {
      const { resources } = podOf(kind, name).containers[0];
      expect(Object.keys(resources.requests).sort()).toEqual(["cpu", "memory"]);
      expect(Object.keys(resources.limits).sort()).toEqual(["cpu", "memory"]);
    }
  });

  test("deploy-kubernetes - every Secret and key the pods use is created by the install steps in deploy/README.md", () => {
    const readme = readFileSync(join(ROOT, "deploy", "README.md"), "utf8").replace(/\\\n/g, " ");
    const created = new Map<string, Set<string>>();
    for (const match of readme.matchAll(/kubectl -n vigil create secret (generic|tls) ([a-z-]+)([^\n]*)/g)) {
      const keys =
        match[1] === "tls"
          ? ["tls.crt", "tls.key"]
          : [...match[3].matchAll(/--from-(?:literal|file)=([a-z.-]+)=/g)].map((key) => key[1]);
      created.set(match[2], new Set(keys));
    }
    const used: string[] = [];
    for (const [kind, name] of [
      ["Deployment", "vigil-server"],
      ["Deployment", "vigil-hub"],
      ["DaemonSet", "vigil-agent"],
    ]) {
      const pod = podOf(kind, name);
      for (const variable of pod.containers[0].env) {
        const ref = variable.valueFrom?.secretKeyRef;
        if (ref) used.push(`${ref.name}/${ref.key}`);
      }
      // Files read from Secret volumes: the config's paths under each mount.
      const { file, env } = podConfig(kind, name);
      const text = `${readFileSync(file, "utf8")}\n${Object.values(env).join("\n")}`;
      for (const volume of pod.volumes.filter((entry) => entry.secret)) {
        const at = mountOf(pod, (entry) => entry.name === volume.name);
        for (const path of text.matchAll(new RegExp(`${at}/([A-Za-z0-9._-]+)`, "g"))) {
          used.push(`${volume.secret?.secretName}/${path[1]}`);
        }
      }
    }
    expect(used.length).toBeGreaterThan(8);
    const missing = used.filter((entry) => {
      const [secret, key] = entry.split("/");
      return !created.get(secret)?.has(key);
    });
    expect(missing).toEqual([]);
  });
});
