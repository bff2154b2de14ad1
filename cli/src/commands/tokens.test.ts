import { type Bus, createMemoryBus, silentLogger } from "@vigil/common";
import { serverConfigSchema, startVigilServer, type VigilServer } from "@vigil/server";
import { type CapturedOutput, captureOutput } from "../../../test/harness/capture-output";
import { listAgents } from "./agents";
import type { ApiOptions } from "./api-client";
import { createToken, listTokens, revokeToken } from "./tokens";

// `vigil tokens` against an embedded server: create prints the secret once
// on stdout, list is a table without secrets, revoke takes effect; a token
// without the admin role gets a 403 that names the role and the token's source.

const TOKEN = "cli-tokens-admin-token-0123456789";

describe("vigil tokens - against an embedded server", () => {
  let bus: Bus;
  let server: VigilServer;
  let api: ApiOptions;
  let output: CapturedOutput;

  beforeAll(async () => {
    bus = createMemoryBus();
    const config = serverConfigSchema.parse({
      serverId: "cli-tokens",
      grpc: { port: 0, agentToken: "cli-tokens-agent-token-0123456789" },
      api: { port: 0, token: TOKEN },
    });
    server = await startVigilServer({ config, bus, logger: silentLogger() });
    api = { api: `http://127.0.0.1:${server.apiPort}`, token: TOKEN, tokenSource: "--token", json: false };
    output = captureOutput();
  });

  afterAll(async () => {
    output?.restore();
    await server?.close(0);
    await bus?.close();
  });

  test("vigil tokens - create, list, use, revoke", async () => {
    output.clear();
    await createToken({ ...api, name: "alice", role: "viewer", ttl: 3600 });
    const secret = output.stdout().trim();
    expect(secret).toMatch(/^vgl_\S+$/);
    expect(output.stderr()).toMatch(/^token \S+ \(viewer, alice\): shown once, store it now\n$/);

    output.clear();
    await listTokens(api);
    const lines = output.lines();
    expect(lines[0]).toMatch(/^ID\s+ROLE\s+NAME\s+CREATED\s+LAST USED\s+STATE$/);
    const alice = lines.find((line) => /\salice\s/.test(line)) ?? "";
    expect(alice).toMatch(/^\S+\s+viewer\s+alice\s+\d+s ago\s+never\s+expires in (59m|1h)$/);
    expect(output.stdout()).not.toContain(secret);
    const id = alice.split(/\s+/)[0];

    // The viewer token reads the fleet, and is refused the admin routes with what it lacks.
    const viewer = { ...api, token: secret, tokenSource: "VIGIL_API_TOKEN" };
    await expect(listAgents(viewer)).resolves.toBeUndefined();
    await expect(listTokens(viewer)).rejects.toThrow(
      /^API 403: .*admin.*viewer.* \(the token from VIGIL_API_TOKEN; `vigil tokens create --role <role>` with an admin token makes one\)$/,
    );

    output.clear();
    await revokeToken({ ...api, json: true }, id);
    expect(JSON.parse(output.lines()[0])).toMatchObject({ id, name: "alice", role: "viewer" });
    await expect(listAgents(viewer)).rejects.toThrow(
      /^API 401: .*the token from VIGIL_API_TOKEN was not accepted/,
    );
  });

  test("vigil tokens - an API that is not there is named with what to check", async () => {
    await expect(
      listTokens({ ...api, api: "http://127.0.0.1:1", apiSource: "VIGIL_API_URL" }),
    ).rejects.toThrow(
      /^cannot reach the Vigil API at http:\/\/127\.0\.0\.1:1 \(from VIGIL_API_URL\): .*check the URL/,
    );
  });
});
