import { readFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { type Bus, connectNatsBus, createLogger, silentLogger } from "@vigil/common";
import { serverConfigSchema, startVigilServer, type VigilServer } from "@vigil/server";
import { type NatsServerHandle, startNatsServer } from "../harness/nats-server";
import { createTestPki, type TestPki } from "../harness/test-certs";
import { waitFor } from "../harness/wait-for";

// The operator API as a fleet runs it: two server instances sharing one real
// NATS (tokens in a KV bucket, audit in a JetStream stream), over HTTPS with
// the test CA, every route behind the token roles.

const BOOTSTRAP = "bootstrap-admin-token-0123456789";

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Record<string, unknown>;
  text: string;
}

interface AuditRecordView {
  action: string;
  target: string;
  serverId: string;
  actor: Record<string, unknown>;
  before?: Record<string, unknown>;
  after?: Record<string, unknown>;
}

let nats: NatsServerHandle;
let pki: TestPki;
let ca: Buffer;
const buses: Bus[] = [];
const servers: VigilServer[] = [];
const logLines: string[] = [];
let serverA: VigilServer;
let serverB: VigilServer;

async function startServer(id: string, api: Record<string, unknown> = {}): Promise<VigilServer> {
  const bus = await connectNatsBus({ servers: [nats.url], name: id, logger: silentLogger() });
  buses.push(bus);
  const config = serverConfigSchema.parse({
    serverId: id,
    grpc: { port: 0 },
    api: {
      port: 0,
      token: BOOTSTRAP,
      tls: { certFile: pki.serverCertFile, keyFile: pki.serverKeyFile },
      ...api,
    },
    enrollment: { enabled: true },
  });
  const logger = createLogger({
    name: id,
    level: "debug",
    destination: { write: (line) => logLines.push(line) },
  });
  const server = await startVigilServer({ config, bus, logger });
  servers.push(server);
  return server;
}

function call(
  server: VigilServer,
  method: string,
  path: string,
  options: { token?: string; body?: unknown; rawBody?: string; ca?: Buffer } = {},
): Promise<Answer> {
  const payload = options.rawBody ?? (options.body === undefined ? undefined : JSON.stringify(options.body));
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      {
        host: "127.0.0.1",
        port: server.apiPort,
        method,
        path,
        ca: options.ca ?? ca,
        headers: {
          ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
          ...(payload !== undefined ? { "content-type": "application/json" } : {}),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString();
          let body: Record<string, unknown> = {};
          try {
            body = JSON.parse(text) as Record<string, unknown>;
          } catch {
            // not JSON (metrics, docs page)
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body, text });
        });
      },
    );
    req.on("error", reject);
    req.end(payload);
  });
}

async function createToken(role: string, name = `${role}-token`): Promise<{ id: string; token: string }> {
  const answer = await call(serverA, "POST", "/api/v1/tokens", { token: BOOTSTRAP, body: { name, role } });
  expect(answer.status).toBe(201);
  return answer.body as { id: string; token: string };
}

beforeAll(async () => {
  pki = createTestPki();
  ca = readFileSync(pki.caFile);
  nats = await startNatsServer();
  serverA = await startServer("api-a");
  serverB = await startServer("api-b");
});

afterAll(async () => {
  for (const server of servers.splice(0)) await server.close(0);
  for (const bus of buses.splice(0)) await bus.close();
  await nats?.stop();
});

describe("operator API - tokens and roles over HTTPS", () => {
  test("operator-api - TLS: the server's certificate verifies against the test CA only; plain HTTP is refused", async () => {
    expect((await call(serverA, "GET", "/healthz")).status).toBe(200);
    await expect(call(serverA, "GET", "/healthz", { ca: readFileSync(pki.otherCaFile) })).rejects.toThrow(
      /certificate/i,
    );
    const plain = await new Promise<string>((resolve) => {
      const req = httpRequest({ host: "127.0.0.1", port: serverA.apiPort, path: "/healthz" }, (res) =>
        resolve(`status ${res.statusCode}`),
      );
      req.on("error", (error: NodeJS.ErrnoException) => resolve(`error ${error.code}`));
      req.end();
    });
    // An HTTPS listener answers clear text with a 400 or hangs up: never with the route.
    expect(plain).toMatch(/^(status 400|error E[A-Z]+)$/);
  });

  test("operator-api - a token is vgl_<id>_<secret>, shown once; the list has no secrets", async () => {
    const created = await createToken("viewer", "list-check");
    expect(created.token).toMatch(new RegExp(`^vgl_${created.id}_[A-Za-z0-9_-]{43}$`));
    const list = await call(serverB, "GET", "/api/v1/tokens", { token: BOOTSTRAP });
    expect(list.status).toBe(200);
    const entry = (list.body.tokens as Array<Record<string, unknown>>).find((t) => t.id === created.id);
    expect(entry).toMatchObject({ id: created.id, name: "list-check", role: "viewer", createdBy: "config" });
    expect(list.text).not.toContain(created.token.slice(-43));
    expect(list.text).not.toContain("secretHash");
  });

  test("operator-api - role matrix: viewer reads, operator changes, admin manages tokens; 401/403 name why", async () => {
    const viewer = await createToken("viewer");
    const operator = await createToken("operator");
    const admin = await createToken("admin");

    expect((await call(serverA, "GET", "/api/v1/agents")).status).toBe(401);
    const garbage = await call(serverA, "GET", "/api/v1/agents", { token: "vgl_AAAAAAAAAAAAAAAA_nope" });
    expect(garbage.status).toBe(401);
    expect(garbage.body).toMatchObject({ error: "unauthorized" });
    const wrongSecret = `${viewer.token.slice(0, -4)}AAAA`;
    expect((await call(serverA, "GET", "/api/v1/agents", { token: wrongSecret })).status).toBe(401);

    // Viewer: reads (on the other instance, which learnt the token through KV), never changes.
    expect((await call(serverB, "GET", "/api/v1/agents", { token: viewer.token })).status).toBe(200);
    const metrics = await call(serverB, "GET", "/metrics", { token: viewer.token });
    expect(metrics.status).toBe(200);
    for (const name of [
      "vigil_server_agent_streams",
      "vigil_server_events_total",
      "vigil_server_publish_seconds_bucket",
      "vigil_server_acks_pending",
      "vigil_server_protocol_errors_total",
    ]) {
      expect(metrics.text).toContain(name);
    }
    const viewerTask = await call(serverB, "POST", "/api/v1/agents/some-agent/tasks", {
      token: viewer.token,
      body: { kind: "process-list" },
    });
    expect(viewerTask.status).toBe(403);
    expect(viewerTask.body.message).toMatch(/needs the operator role; token \S+ has viewer/);
    expect((await call(serverB, "GET", "/api/v1/audit", { token: viewer.token })).status).toBe(403);

    // Operator: past auth on a change, not on tokens or enrolment.
    const operatorTask = await call(serverA, "POST", "/api/v1/agents/some-agent/tasks", {
      token: operator.token,
      body: { kind: "process-list" },
    });
    expect([401, 403]).not.toContain(operatorTask.status);
    const operatorToken = await call(serverA, "POST", "/api/v1/tokens", {
      token: operator.token,
      body: { name: "sneaky", role: "admin" },
    });
    expect(operatorToken.status).toBe(403);
    expect(operatorToken.body.message).toMatch(/needs the admin role/);
    expect(
      (
        await call(serverA, "POST", "/api/v1/enrollment-tokens", {
          token: operator.token,
          body: { kind: "one-time" },
        })
      ).status,
    ).toBe(403);
    expect((await call(serverA, "GET", "/api/v1/audit", { token: operator.token })).status).toBe(200);

    // Admin: everything.
    expect(
      (
        await call(serverB, "POST", "/api/v1/enrollment-tokens", {
          token: admin.token,
          body: { kind: "one-time" },
        })
      ).status,
    ).toBe(201);
    expect((await call(serverB, "GET", "/api/v1/tokens", { token: admin.token })).status).toBe(200);

    // Public: probes and the docs.
    expect((await call(serverA, "GET", "/healthz")).status).toBe(200);
    expect((await call(serverA, "GET", "/readyz")).status).toBe(200);
    expect((await call(serverA, "GET", "/api/v1/openapi.json")).status).toBe(200);
    expect((await call(serverA, "GET", "/metrics")).status).toBe(401);
  });

  test("operator-api - a token revoked on one instance is refused by the other (KV watch)", async () => {
    const operator = await createToken("operator", "to-revoke");
    expect((await call(serverB, "GET", "/api/v1/agents", { token: operator.token })).status).toBe(200);
    const revoked = await call(serverA, "DELETE", `/api/v1/tokens/${operator.id}`, { token: BOOTSTRAP });
    expect(revoked.status).toBe(200);
    expect(revoked.body).toMatchObject({
      id: operator.id,
      revokedBy: "config",
      revokedAt: expect.any(String),
    });
    expect((await call(serverA, "GET", "/api/v1/agents", { token: operator.token })).status).toBe(401);
    await waitFor(
      async () => (await call(serverB, "GET", "/api/v1/agents", { token: operator.token })).status === 401,
      5000,
      "server B to refuse the revoked token",
    );
    const listed = await call(serverB, "GET", "/api/v1/tokens", { token: BOOTSTRAP });
    expect(
      (listed.body.tokens as Array<Record<string, unknown>>).find((t) => t.id === operator.id),
    ).toMatchObject({
      revokedBy: "config",
    });
    expect(
      (await call(serverA, "DELETE", "/api/v1/tokens/AAAAAAAAAAAAAAAA", { token: BOOTSTRAP })).status,
    ).toBe(404);
  });

  test("operator-api - bad input: 400 naming the field, 413 beyond the body limit", async () => {
    const post = (body: unknown) => call(serverA, "POST", "/api/v1/tokens", { token: BOOTSTRAP, body });
    expect((await post({ name: "x", role: "root" })).body).toEqual({
      error: "bad_request",
      message: "body.role: must be one of viewer, operator, admin",
    });
    expect((await post({ role: "viewer" })).body.message).toBe("body.name: is required");
    expect((await post({ name: "x", role: "viewer", colour: "red" })).body.message).toBe(
      "body.colour: is not an accepted field",
    );
    expect((await post({ name: "x", role: "viewer", ttlSeconds: 5 })).body.message).toBe(
      "body.ttlSeconds: must be >= 60",
    );
    const badJson = await call(serverA, "POST", "/api/v1/tokens", { token: BOOTSTRAP, rawBody: "{not json" });
    expect(badJson.status).toBe(400);
    expect(badJson.body.error).toBe("bad_request");
    const query = await call(serverA, "GET", "/api/v1/audit?limit=0", { token: BOOTSTRAP });
    expect(query.status).toBe(400);
    expect(query.body.message).toBe("querystring.limit: must be >= 1");
    const params = await call(serverA, "DELETE", "/api/v1/tokens/not!an!id", { token: BOOTSTRAP });
    expect(params.status).toBe(400);
    expect(params.body.message).toMatch(/^params\.id: must match pattern/);
    const huge = await call(serverA, "POST", "/api/v1/tokens", {
      token: BOOTSTRAP,
      body: { name: "x".repeat(2 * 1024 * 1024), role: "viewer" },
    });
    expect(huge.status).toBe(413);
    expect(huge.body.error).toBe("payload_too_large");
  });

  test("operator-api - audit: token and enrolment changes are recorded and queryable with filters and paging", async () => {
    const before = new Date().toISOString();
    const admin = await createToken("admin", "audit-admin");
    const viewer = await call(serverB, "POST", "/api/v1/tokens", {
      token: admin.token,
      body: { name: "audited-viewer", role: "viewer", ttlSeconds: 3600 },
    });
    const viewerId = String(viewer.body.id);
    await call(serverA, "DELETE", `/api/v1/tokens/${viewerId}`, { token: admin.token });
    const enrol = await call(serverA, "POST", "/api/v1/enrollment-tokens", {
      token: admin.token,
      body: { kind: "fleet", label: "audit" },
    });
    expect(enrol.status).toBe(201);

    const query = async (q: string) => {
      const answer = await call(serverB, "GET", `/api/v1/audit?${q}`, { token: BOOTSTRAP });
      expect(answer.status).toBe(200);
      return answer.body as unknown as { records: AuditRecordView[]; nextCursor?: number };
    };
    const mine = await query(`actor=${admin.id}&since=${encodeURIComponent(before)}`);
    expect(mine.records.map((r) => [r.action, r.target])).toEqual([
      ["token.create", `token/${viewerId}`],
      ["token.revoke", `token/${viewerId}`],
      ["enrollment-token.create", `enrollment-token/${enrol.body.id}`],
    ]);
    const [create, revoke] = mine.records;
    expect(create.actor).toMatchObject({
      id: admin.id,
      name: "audit-admin",
      role: "admin",
      address: "127.0.0.1",
    });
    expect(create.serverId).toBe("api-b");
    expect(create.after).toMatchObject({ name: "audited-viewer", role: "viewer" });
    expect(revoke.before?.revokedAt).toBeUndefined();
    expect(revoke.after?.revokedAt).toEqual(expect.any(String));
    expect(JSON.stringify(mine)).not.toContain(String(viewer.body.token));
    expect(JSON.stringify(mine)).not.toContain(String(enrol.body.token));

    // Action prefix, exact target, time window.
    expect((await query(`action=token&actor=${admin.id}`)).records.map((r) => r.action)).toEqual([
      "token.create",
      "token.revoke",
    ]);
    expect((await query(`target=token/${viewerId}`)).records).toHaveLength(2);
    expect((await query(`target=enrollment-token/&actor=${admin.id}`)).records).toHaveLength(1);
    expect((await query(`actor=${admin.id}&until=${encodeURIComponent(before)}`)).records).toHaveLength(0);

    // Paging: one record a page, following the cursor.
    const seen: string[] = [];
    let cursor: number | undefined;
    for (let page = 0; page < 10; page++) {
      const answer = await query(
        `actor=${admin.id}&limit=1${cursor === undefined ? "" : `&cursor=${cursor}`}`,
      );
      seen.push(...answer.records.map((r) => r.action));
      if (answer.nextCursor === undefined) break;
      cursor = answer.nextCursor;
    }
    expect(seen).toEqual(["token.create", "token.revoke", "enrollment-token.create"]);
  });

  test("operator-api - no token secret reaches the logs", async () => {
    const created = await createToken("operator", "log-check");
    await call(serverB, "GET", "/api/v1/agents", { token: created.token });
    await call(serverB, "GET", "/api/v1/agents", { token: `${created.token}x` });
    await call(serverA, "POST", "/api/v1/agents/x/tasks", { token: created.token, body: { kind: "nope" } });
    const enrol = await call(serverA, "POST", "/api/v1/enrollment-tokens", {
      token: BOOTSTRAP,
      body: { kind: "one-time" },
    });
    const all = logLines.join("");
    expect(all).toContain("audit record");
    expect(all).toContain(created.id);
    for (const secret of [BOOTSTRAP, created.token.slice(-43), String(enrol.body.token)]) {
      expect(all).not.toContain(secret);
    }
  });

  test("operator-api - the OpenAPI document lists every /api/v1 route, tagged, with its role; /docs serves the page", async () => {
    const answer = await call(serverB, "GET", "/api/v1/openapi.json");
    expect(answer.status).toBe(200);
    const paths = answer.body.paths as Record<
      string,
      Record<string, { tags?: string[]; description?: string }>
    >;
    const documented = new Set<string>();
    for (const [path, operations] of Object.entries(paths)) {
      for (const [method, operation] of Object.entries(operations)) {
        // OpenAPI writes /a/:id as /a/{id}.
        documented.add(`${method.toUpperCase()} ${path.replace(/\{([^}]+)\}/g, ":$1")}`);
        expect(operation.tags?.length).toBeGreaterThan(0);
      }
    }
    const apiRoutes = serverB.apiRoutes.filter(
      (r) => r.includes(" /api/v1/") && !r.endsWith("/openapi.json"),
    );
    expect(apiRoutes.length).toBeGreaterThan(10);
    expect(apiRoutes.filter((route) => !documented.has(route))).toEqual([]);
    expect(paths["/api/v1/tokens"].post.description).toContain("Role: admin");
    expect(paths["/api/v1/audit"].get.description).toContain("Role: operator");
    const docs = await call(serverB, "GET", "/docs/");
    expect(docs.status).toBe(200);
    expect(docs.text).toContain("swagger");
  });

  test("operator-api - rate limit: 429 with Retry-After per token; another token keeps its budget", async () => {
    const limited = await startServer("api-limited", { rateLimit: { max: 3, windowMs: 60_000 } });
    const first = await createToken("viewer", "rate-1");
    const second = await createToken("viewer", "rate-2");
    for (let i = 0; i < 3; i++) {
      expect((await call(limited, "GET", "/api/v1/agents", { token: first.token })).status).toBe(200);
    }
    const refused = await call(limited, "GET", "/api/v1/agents", { token: first.token });
    expect(refused.status).toBe(429);
    expect(refused.body.error).toBe("rate_limited");
    expect(Number(refused.headers["retry-after"])).toBeGreaterThan(0);
    expect((await call(limited, "GET", "/api/v1/agents", { token: second.token })).status).toBe(200);
    expect((await call(limited, "GET", "/healthz")).status).toBe(200);
  });

  test("operator-api - /readyz answers 503 naming the reason when the bus is lost, 200 again after", async () => {
    expect((await call(serverA, "GET", "/readyz")).body).toEqual({ ready: true, reasons: [] });
    await nats.kill9();
    await waitFor(() => !serverB.readiness().ready, 10_000, "server B to notice NATS is gone");
    const answer = await call(serverB, "GET", "/readyz");
    expect(answer.status).toBe(503);
    expect(answer.body.reasons).toContain("bus disconnected");
    await nats.restart();
    await waitFor(() => serverB.readiness().ready, 20_000, "server B to be ready again");
  });
});
