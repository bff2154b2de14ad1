import { chmodSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { credentials, Metadata, type ServiceError, status } from "@grpc/grpc-js";
import {
  type AgentConfig,
  agentConfigSchema,
  type Collector,
  credentialPath,
  type EventSink,
  loadOrCreateAgentId,
  startAgent,
  VigilAgent,
} from "@vigil/agent";
import { createMemoryBus, ErrorCodes, silentLogger } from "@vigil/common";
import { AgentServiceClient, EnrollmentServiceClient, type EnrollResponse } from "@vigil/proto";
import { serverConfigSchema, startVigilServer, type VigilServer } from "@vigil/server";
import { EXEC_CAT_SHADOW } from "../fixtures/sample-events";
import { apiCall } from "../harness/servers-on-nats";
import { createTestPki, type TestPki } from "../harness/test-certs";
import { waitFor } from "../harness/wait-for";

const logger = silentLogger();
const host = {
  hostname: "enrol-host",
  osName: "Debian GNU/Linux",
  osVersion: "12",
  kernelRelease: "6.1.0",
  architecture: "x64",
  ipAddresses: [],
};

class ManualCollector implements Collector {
  readonly name = "manual";
  private sink: EventSink | undefined;
  async start(sink: EventSink): Promise<void> {
    this.sink = sink;
  }
  async stop(): Promise<void> {}
  stats(): Record<string, number> {
    return {};
  }
  emit(): void {
    this.sink?.(EXEC_CAT_SHADOW);
  }
}

let pki: TestPki;
const servers: VigilServer[] = [];
const agents: VigilAgent[] = [];

beforeAll(() => {
  pki = createTestPki();
});

afterEach(async () => {
  for (const agent of agents.splice(0)) await agent.stop(0);
  for (const server of servers.splice(0)) await server.close(0);
});

async function startServer(options: { mtls?: boolean } = {}): Promise<VigilServer> {
  const config = serverConfigSchema.parse({
    serverId: "enrol-server",
    grpc: {
      port: 0,
      helloTimeoutMs: 2000,
      tls: {
        certFile: pki.serverCertFile,
        keyFile: pki.serverKeyFile,
        ...(options.mtls ? { clientCaFile: pki.caFile } : {}),
      },
    },
    api: { port: 0 },
    enrollment: { enabled: true },
  });
  const server = await startVigilServer({ config, bus: createMemoryBus(), logger });
  servers.push(server);
  return server;
}

function api(server: VigilServer, method: string, path: string, body?: unknown) {
  return apiCall(server, method, path, { body });
}

async function newToken(server: VigilServer, body: Record<string, unknown>): Promise<string> {
  const created = await api(server, "POST", "/api/v1/enrollment-tokens", body);
  expect(created.status).toBe(201);
  return created.body.token as string;
}

function config(server: VigilServer, overrides: Record<string, unknown> = {}): AgentConfig {
  return agentConfigSchema.parse({
    stateDir: mkdtempSync(join(tmpdir(), "vigil-enrol-agent-")),
    servers: [`127.0.0.1:${server.grpcPort}`],
    tls: { caFile: pki.caFile },
    batch: { maxEvents: 10, flushIntervalMs: 20 },
    transport: { backoffInitialMs: 50, backoffMaxMs: 1000, connectTimeoutMs: 2000 },
    spool: { mode: "memory" },
    ...overrides,
  });
}

async function runAgent(agentConfig: AgentConfig): Promise<{ agent: VigilAgent; agentId: string }> {
  const agentId = loadOrCreateAgentId(agentConfig.stateDir);
  const collector = new ManualCollector();
  const agent = new VigilAgent({ config: agentConfig, agentId, host, collectors: [collector], logger });
  agents.push(agent);
  await agent.start();
  collector.emit();
  agent.flush();
  return { agent, agentId };
}

/** A raw Enroll call, for the refusals. */
function enroll(server: VigilServer, token: string, agentId: string): Promise<EnrollResponse> {
  const client = new EnrollmentServiceClient(
    `127.0.0.1:${server.grpcPort}`,
    credentials.createSsl(readFileSync(pki.caFile)),
  );
  return new Promise((resolve, reject) =>
    client.enroll(
      { ...host, enrollmentToken: token, agentId, agentVersion: "test", ipAddresses: [] },
      new Metadata(),
      (error: ServiceError | null, response?: EnrollResponse) => {
        client.close();
        if (error) reject(error);
        else resolve(response as EnrollResponse);
      },
    ),
  );
}

describe("agent enrolment - tokens, credentials, revocation over TLS", () => {
  test("a one-time token enrols one agent over TLS; the credential is stored 0600 and the token is spent", async () => {
    const server = await startServer();
    const token = await newToken(server, { kind: "one-time", label: "web-1" });
    const agentConfig = config(server, { enrollmentToken: token });
    const { agent, agentId } = await runAgent(agentConfig);
    // Connected means enrolled: the credential is stored before the first stream opens.
    await waitFor(() => agent.link.isConnected(), 10_000, "agent connected");
    expect(await agent.link.whenDrained(5000)).toBe(true);
    expect(statSync(credentialPath(agentConfig.stateDir)).mode & 0o777).toBe(0o600);
    expect(statSync(join(agentConfig.stateDir, "agent-id")).mode & 0o777).toBe(0o600);
    const stored = JSON.parse(readFileSync(credentialPath(agentConfig.stateDir), "utf8"));
    expect(stored.agentId).toBe(agentId);
    expect(stored.credential).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(await server.enrollment?.getAgent(agentId)).toMatchObject({
      hostname: "enrol-host",
      revokedAt: null,
    });
    // Second use, by another agent: refused.
    await expect(enroll(server, token, "another-agent")).rejects.toMatchObject({
      code: status.UNAUTHENTICATED,
      details: "enrollment token already used",
    });
    const listed = await api(server, "GET", "/api/v1/enrollment-tokens");
    expect(listed.body.tokens).toEqual([
      expect.objectContaining({ kind: "one-time", state: "used", uses: 1 }),
    ]);
    expect(JSON.stringify(listed.body)).not.toContain(token);
  });

  test("the credential is reused after a restart without the token; the agent id is stable", async () => {
    const server = await startServer();
    const token = await newToken(server, { kind: "one-time" });
    const first = config(server, { enrollmentToken: token });
    const { agent, agentId } = await runAgent(first);
    await waitFor(() => agent.link.isConnected(), 10_000, "agent connected");
    expect(await agent.link.whenDrained(5000)).toBe(true);
    await agent.stop(0);
    agents.splice(agents.indexOf(agent), 1);
    const restarted = await runAgent({ ...first, enrollmentToken: undefined });
    expect(restarted.agentId).toBe(agentId);
    await waitFor(() => restarted.agent.link.isConnected(), 10_000, "restarted agent connected");
    expect(await restarted.agent.link.whenDrained(5000)).toBe(true);
    expect(restarted.agent.link.counters.refusals).toBe(0);
    expect(await server.enrollment?.listAgents()).toHaveLength(1);
  });

  test("a fleet token enrols many agents; an expired or revoked token enrols none", async () => {
    const server = await startServer();
    const fleet = await newToken(server, { kind: "fleet" });
    const a = await runAgent(config(server, { enrollmentToken: fleet }));
    const b = await runAgent(config(server, { enrollmentToken: fleet }));
    await waitFor(
      () => a.agent.link.isConnected() && b.agent.link.isConnected(),
      10_000,
      "both agents connected",
    );
    expect(await a.agent.link.whenDrained(5000)).toBe(true);
    expect(await b.agent.link.whenDrained(5000)).toBe(true);
    expect(a.agentId).not.toBe(b.agentId);

    const shortLived = await newToken(server, { kind: "fleet", ttlSeconds: 1 });
    await new Promise((resolve) => setTimeout(resolve, 1100));
    await expect(enroll(server, shortLived, "late-agent")).rejects.toMatchObject({
      code: status.UNAUTHENTICATED,
      details: "enrollment token expired",
    });
    const tokens = (await api(server, "GET", "/api/v1/enrollment-tokens")).body.tokens as Array<{
      id: string;
      state: string;
    }>;
    const fleetId = tokens.find((entry) => entry.state === "active")?.id;
    expect((await api(server, "DELETE", `/api/v1/enrollment-tokens/${fleetId}`)).body.state).toBe("revoked");
    await expect(enroll(server, fleet, "third-agent")).rejects.toMatchObject({
      code: status.UNAUTHENTICATED,
    });
    await expect(enroll(server, "vet_not-a-token-at-all-000000", "x")).rejects.toMatchObject({
      code: status.UNAUTHENTICATED,
    });
  });

  test("a revoked agent is cut off, refused PERMISSION_DENIED 'agent revoked', and backs off", async () => {
    const server = await startServer();
    const token = await newToken(server, { kind: "one-time" });
    const agentConfig = config(server, { enrollmentToken: token });
    const { agent, agentId } = await runAgent(agentConfig);
    await waitFor(() => agent.link.isConnected(), 5000, "agent connected");
    const revoked = await api(server, "POST", `/api/v1/agents/${agentId}/revoke`);
    expect(revoked.body.revokedAt).toEqual(expect.any(String));
    await waitFor(() => agent.link.counters.refusals >= 1, 3000, "the stream refused");
    expect(agent.link.isConnected()).toBe(false);
    // Refused: each retry waits the longest backoff (0.5–1 s here), not backoffInitialMs (50 ms).
    await new Promise((resolve) => setTimeout(resolve, 2500));
    expect(agent.link.counters.refusals).toBeLessThanOrEqual(6);
    expect(agent.link.isConnected()).toBe(false);
    await expect(enroll(server, token, agentId)).rejects.toMatchObject({ code: status.UNAUTHENTICATED });
    // What the agent is told, on the wire.
    const { credential } = JSON.parse(readFileSync(credentialPath(agentConfig.stateDir), "utf8"));
    const client = new AgentServiceClient(
      `127.0.0.1:${server.grpcPort}`,
      credentials.createSsl(readFileSync(pki.caFile)),
    );
    const metadata = new Metadata();
    metadata.set("vigil-agent-id", agentId);
    metadata.set("authorization", `Bearer ${credential}`);
    const refusal = await new Promise<ServiceError>((resolve) =>
      client.connect(metadata).on("error", resolve),
    );
    client.close();
    expect(refusal).toMatchObject({ code: status.PERMISSION_DENIED, details: "agent revoked" });
    expect((await api(server, "POST", "/api/v1/agents/never-enrolled/revoke")).status).toBe(404);
  });

  test("an agent that trusts another CA never connects; mTLS refuses an agent without a client certificate", async () => {
    const server = await startServer({ mtls: true });
    const token = await newToken(server, { kind: "fleet" });
    const wrongCa = await runAgent(
      config(server, {
        enrollmentToken: token,
        tls: { caFile: pki.otherCaFile, certFile: pki.clientCertFile, keyFile: pki.clientKeyFile },
      }),
    );
    const noClientCert = await runAgent(config(server, { enrollmentToken: token }));
    const good = await runAgent(
      config(server, {
        enrollmentToken: token,
        tls: { caFile: pki.caFile, certFile: pki.clientCertFile, keyFile: pki.clientKeyFile },
      }),
    );
    await waitFor(() => good.agent.link.isConnected(), 10_000, "the mTLS agent connected");
    expect(await good.agent.link.whenDrained(5000)).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(wrongCa.agent.link.counters.connects).toBe(0);
    expect(noClientCert.agent.link.counters.connects).toBe(0);
    // Neither got as far as enrolling.
    expect((await server.enrollment?.listAgents())?.map((entry) => entry.agentId)).toEqual([good.agentId]);
  });

  test("a Connect without a credential is refused when the server has an enrolment store", async () => {
    const server = await startServer();
    const { agent } = await runAgent(config(server));
    await waitFor(() => agent.link.counters.refusals >= 1, 3000, "refusal");
    expect(agent.link.counters.connects).toBe(0);
  });
});

describe("agent start - refuses insecure permissions, naming the path", () => {
  const base = () =>
    agentConfigSchema.parse({
      stateDir: mkdtempSync(join(tmpdir(), "vigil-perm-")),
      spool: { mode: "memory" },
      collectors: ["replay"],
      replay: { files: ["/dev/null"] },
    });

  test("a world-writable config file", async () => {
    const agentConfig = base();
    const file = join(mkdtempSync(join(tmpdir(), "vigil-perm-cfg-")), "agent.yaml");
    writeFileSync(file, "logLevel: info\n");
    chmodSync(file, 0o666);
    await expect(startAgent(agentConfig, logger, [], { configFile: file })).rejects.toMatchObject({
      code: ErrorCodes.INSECURE_PERMISSIONS,
      message: `${file} is world-writable (mode 0666): chmod 600 it; refusing to start on insecure permissions`,
    });
  });

  test("a group-writable state directory", async () => {
    const agentConfig = base();
    chmodSync(agentConfig.stateDir, 0o770);
    await expect(startAgent(agentConfig, logger, [])).rejects.toMatchObject({
      code: ErrorCodes.INSECURE_PERMISSIONS,
      message: expect.stringContaining(`${agentConfig.stateDir} is group-writable (mode 0770): chmod 700 it`),
    });
  });

  test("a credential readable by others", async () => {
    const agentConfig = base();
    const agentId = loadOrCreateAgentId(agentConfig.stateDir);
    writeFileSync(credentialPath(agentConfig.stateDir), JSON.stringify({ agentId, credential: "x" }), {
      mode: 0o644,
    });
    chmodSync(credentialPath(agentConfig.stateDir), 0o644);
    await expect(startAgent(agentConfig, logger, [])).rejects.toMatchObject({
      code: ErrorCodes.INSECURE_PERMISSIONS,
      message: expect.stringContaining(
        `${credentialPath(agentConfig.stateDir)} is accessible to group or others (mode 0644): chmod 600 it`,
      ),
    });
  });

  test("the agent id is generated once and kept (0600) across restarts", () => {
    const dir = mkdtempSync(join(tmpdir(), "vigil-id-"));
    const id = loadOrCreateAgentId(dir);
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(loadOrCreateAgentId(dir)).toBe(id);
    expect(statSync(join(dir, "agent-id")).mode & 0o777).toBe(0o600);
  });
});
