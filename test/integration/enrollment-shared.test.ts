import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { credentials, Metadata, type ServiceError, status } from "@grpc/grpc-js";
import {
  agentConfigSchema,
  credentialPath,
  loadOrCreateAgentId,
  readCredential,
  VigilAgent,
} from "@vigil/agent";
import { silentLogger } from "@vigil/common";
import { AgentServiceClient, EnrollmentServiceClient, type EnrollResponse } from "@vigil/proto";
import type { VigilServer } from "@vigil/server";
import { type NatsServerHandle, startNatsServer } from "../harness/nats-server";
import { apiCall, ServersOnNats } from "../harness/servers-on-nats";
import { waitFor } from "../harness/wait-for";

// Enrolment shared by every server: two server instances on one real NATS
// (the vigil-enrollment KV bucket), real gRPC. An agent enrolled through A
// connects to B; a one-time token presented to A and B at once enrols exactly
// one agent; a revocation made on A ends the agent's stream on B and B refuses
// it from then on; an Enroll flood from one address is cut off with
// RESOURCE_EXHAUSTED.

const logger = silentLogger();
jest.setTimeout(60_000);
const host = {
  hostname: "shared-enrol-host",
  osName: "Debian GNU/Linux",
  osVersion: "12",
  kernelRelease: "6.1.0",
  architecture: "x64",
  ipAddresses: [],
};

let nats: NatsServerHandle;
let work: string;
const fleet = new ServersOnNats(() => nats.url, logger);
const agents: VigilAgent[] = [];
let serverA: VigilServer;
let serverB: VigilServer;

function startServer(serverId: string): Promise<VigilServer> {
  return fleet.start(serverId, {
    grpc: { port: 0, helloTimeoutMs: 2000 },
    api: { port: 0 },
    enrollment: { enabled: true, rateLimit: { burst: 30, perSecond: 0.5 } },
  });
}

function api(server: VigilServer, method: string, path: string, body?: unknown) {
  return apiCall(server, method, path, { body });
}

async function newToken(server: VigilServer, kind: "one-time" | "fleet"): Promise<string> {
  const created = await api(server, "POST", "/api/v1/enrollment-tokens", { kind });
  expect(created.status).toBe(201);
  return created.body.token as string;
}

function enroll(server: VigilServer, token: string, agentId: string): Promise<EnrollResponse> {
  const client = new EnrollmentServiceClient(`127.0.0.1:${server.grpcPort}`, credentials.createInsecure());
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

/** A raw Connect with a credential: resolves with the error the server ends it with. */
function connectRefusal(server: VigilServer, agentId: string, credential: string): Promise<ServiceError> {
  const client = new AgentServiceClient(`127.0.0.1:${server.grpcPort}`, credentials.createInsecure());
  const metadata = new Metadata();
  metadata.set("vigil-agent-id", agentId);
  metadata.set("authorization", `Bearer ${credential}`);
  return new Promise<ServiceError>((resolve) => client.connect(metadata).on("error", resolve)).finally(() =>
    client.close(),
  );
}

async function runAgent(
  stateDir: string,
  server: VigilServer,
  enrollmentToken?: string,
): Promise<VigilAgent> {
  const config = agentConfigSchema.parse({
    stateDir,
    servers: [`127.0.0.1:${server.grpcPort}`],
    batch: { maxEvents: 10, flushIntervalMs: 20 },
    transport: { backoffInitialMs: 50, backoffMaxMs: 500, connectTimeoutMs: 2000 },
    spool: { mode: "memory" },
    ...(enrollmentToken ? { enrollmentToken } : {}),
  });
  const agent = new VigilAgent({
    config,
    agentId: loadOrCreateAgentId(stateDir),
    host,
    collectors: [],
    logger,
  });
  agents.push(agent);
  await agent.start();
  return agent;
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "enrolalerts-shared-"));
  nats = await startNatsServer();
  serverA = await startServer("enrol-a");
  serverB = await startServer("enrol-b");
});

afterAll(async () => {
  for (const agent of agents) await agent.stop(0);
  await fleet.close();
  await nats?.stop();
  rmSync(work, { recursive: true, force: true });
});

describe("enrolment shared by all servers", () => {
  test("enrolment - an agent enrolled through server A connects to server B with its credential", async () => {
    const stateDir = mkdtempSync(join(work, "a-then-b-"));
    const enrolled = await runAgent(stateDir, serverA, await newToken(serverA, "one-time"));
    await waitFor(() => enrolled.link.isConnected(), 10_000, "agent connected to A");
    await enrolled.stop(0);
    const stored = readCredential(stateDir);
    expect(stored?.credential).toMatch(/^[A-Za-z0-9_-]{43}$/);
    // Same state dir, no token: only the credential A issued can open B.
    const moved = await runAgent(stateDir, serverB);
    await waitFor(() => moved.link.isConnected(), 10_000, "agent connected to B");
    expect(moved.link.counters.refusals).toBe(0);
    expect(await serverB.enrollment?.getAgent(stored?.agentId as string)).toMatchObject({
      hostname: "shared-enrol-host",
      lastAuthAt: expect.any(String),
      revokedAt: null,
    });
    // The credential is stored hashed: the bucket never holds it in clear.
    const listed = JSON.stringify(await api(serverB, "GET", "/api/v1/enrolled-agents"));
    expect(listed).not.toContain(stored?.credential as string);
    expect(credentialPath(stateDir)).toContain(stateDir);
  });

  test("enrolment - one one-time token presented to A and B at once enrols exactly one agent", async () => {
    for (let round = 0; round < 5; round++) {
      const token = await newToken(serverA, "one-time");
      const outcomes = await Promise.allSettled([
        enroll(serverA, token, `race-${round}-a`),
        enroll(serverB, token, `race-${round}-b`),
      ]);
      const won = outcomes.filter((outcome) => outcome.status === "fulfilled");
      const lost = outcomes.filter((outcome) => outcome.status === "rejected");
      expect(won).toHaveLength(1);
      expect(lost).toHaveLength(1);
      expect((lost[0] as PromiseRejectedResult).reason).toMatchObject({
        code: status.UNAUTHENTICATED,
        details: "enrollment token already used",
      });
      const tokens = (await api(serverB, "GET", "/api/v1/enrollment-tokens")).body.tokens as Array<{
        uses: number;
        state: string;
      }>;
      expect(tokens.at(-1)).toMatchObject({ uses: 1, state: "used" });
    }
  });

  test("enrolment - revoking on A ends the agent's stream on B, and B refuses it from then on", async () => {
    const stateDir = mkdtempSync(join(work, "revoke-"));
    const agent = await runAgent(stateDir, serverB, await newToken(serverB, "fleet"));
    await waitFor(() => agent.link.isConnected(), 10_000, "agent connected to B");
    const { agentId, credential } = readCredential(stateDir) as { agentId: string; credential: string };
    const revoked = await api(serverA, "POST", `/api/v1/agents/${agentId}/revoke`);
    expect(revoked.status).toBe(200);
    expect(revoked.body.revokedAt).toEqual(expect.any(String));
    await waitFor(() => agent.link.counters.refusals >= 1, 5000, "B ended the revoked agent's stream");
    expect(agent.link.isConnected()).toBe(false);
    expect(await connectRefusal(serverB, agentId, credential)).toMatchObject({
      code: status.PERMISSION_DENIED,
      details: "agent revoked",
    });
    expect(await connectRefusal(serverA, agentId, credential)).toMatchObject({
      code: status.PERMISSION_DENIED,
    });
  });

  test("enrolment - an Enroll flood from one address is refused RESOURCE_EXHAUSTED after the burst", async () => {
    // Tokens left in the 30-token bucket of 127.0.0.1 after the tests above differ; flood until refused.
    const refusals: ServiceError[] = [];
    let accepted = 0;
    for (let attempt = 0; attempt < 60 && refusals.length === 0; attempt++) {
      await enroll(serverA, `vet_nosuchid.${"x".repeat(43)}`, `flood-${attempt}`).catch(
        (error: ServiceError) => {
          if (error.code === status.RESOURCE_EXHAUSTED) refusals.push(error);
          else {
            expect(error).toMatchObject({
              code: status.UNAUTHENTICATED,
              details: "enrollment token unknown",
            });
            accepted++;
          }
        },
      );
    }
    expect(refusals).toHaveLength(1);
    expect(accepted).toBeLessThanOrEqual(30);
    expect(refusals[0]?.details).toMatch(/^too many enrolment attempts from 127\.0\.0\.1: retry in \d+ s$/);
    // The limit is per server instance and per address: a valid token is refused too while it lasts.
    await expect(enroll(serverA, await newToken(serverA, "fleet"), "flood-valid")).rejects.toMatchObject({
      code: status.RESOURCE_EXHAUSTED,
    });
    // Server B's bucket for this address is its own.
    await expect(enroll(serverB, await newToken(serverB, "fleet"), "not-flooded")).resolves.toMatchObject({
      agentId: "not-flooded",
    });
  });

  test("enrolment - failed credential checks spend the same bucket: a guessing client is cut off", async () => {
    const refusals: ServiceError[] = [];
    for (let attempt = 0; attempt < 60 && refusals.length === 0; attempt++) {
      const error = await connectRefusal(
        serverB,
        "not-flooded",
        "guessed-credential-guessed-credential-00000",
      );
      if (error.code === status.RESOURCE_EXHAUSTED) refusals.push(error);
      else expect(error).toMatchObject({ code: status.UNAUTHENTICATED, details: "invalid agent credential" });
    }
    expect(refusals[0]?.details).toMatch(
      /^too many failed agent authentications from 127\.0\.0\.1: retry in \d+ s$/,
    );
  });
});
