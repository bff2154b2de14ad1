// The server's Consul self-registration (TTL check) cases, run against the
// loopback double and, when CONSUL_HTTP_ADDR is set, against a real Consul.
// What Consul holds is read back through the health API, the way agents see it.

import { randomBytes } from "node:crypto";
import { ConsulClient, type ConsulConnection, silentLogger } from "@vigil/common";
import { serverConfigSchema } from "../../server/src/config";
import { ConsulRegistration, type ServingHealth } from "../../server/src/discovery/consul-registration";
import { waitFor } from "../harness/wait-for";

export interface ConsulRegistrationTarget {
  connection: ConsulConnection;
}

export function defineConsulRegistrationCases(target: () => ConsulRegistrationTarget): void {
  let service: string;
  let control: ConsulClient;
  const started: ConsulRegistration[] = [];

  beforeEach(() => {
    service = `vigil-server-test-${randomBytes(4).toString("hex")}`;
    control = new ConsulClient(target().connection);
  });

  afterEach(async () => {
    for (const registration of started.splice(0)) await registration.stop();
    await control.close();
  });

  function register(health: () => ServingHealth): ConsulRegistration {
    const { address, token, caFile } = target().connection;
    const config = serverConfigSchema.parse({
      serverId: "cases-1",
      consul: { register: true, address, token, caFile, service, checkTtlMs: 3000 },
    });
    const registration = new ConsulRegistration({
      config: config.consul,
      serverId: config.serverId,
      grpcHost: "127.0.0.1",
      grpcPort: 17443,
      health,
      logger: silentLogger(),
    });
    started.push(registration);
    return registration;
  }

  /** The instance's TTL check as the health API reports it (undefined: not registered). */
  async function ttlCheck() {
    const { entries } = await control.healthService({ service });
    return entries[0]?.Checks.find((check) => check.CheckID === `${service}-cases-1:ttl`);
  }

  test("consul-registration - the TTL check passes with the server's note while its bus is reachable", async () => {
    const registration = register(() => ({ healthy: true, output: "event bus connected; 0 agents" }));
    await registration.start();
    await waitFor(async () => (await ttlCheck())?.Status === "passing", 10_000, "the check passing");
    expect((await ttlCheck())?.Output).toBe("event bus connected; 0 agents");
    const passing = await control.healthService({ service, passing: true });
    expect(passing.entries.map((entry) => entry.Service.Port)).toEqual([17443]);
  });

  test("consul-registration - unreachable bus: critical with the reason (agents stop choosing it), then passing again", async () => {
    let health: ServingHealth = { healthy: true, output: "event bus connected; 2 agents" };
    const registration = register(() => health);
    await registration.start();
    await waitFor(async () => (await ttlCheck())?.Status === "passing", 10_000, "the check passing");
    health = { healthy: false, output: "event bus (NATS) unreachable: agents should use another server" };
    await waitFor(async () => (await ttlCheck())?.Status === "critical", 10_000, "the check critical");
    expect((await ttlCheck())?.Output).toBe("event bus (NATS) unreachable: agents should use another server");
    expect((await control.healthService({ service, passing: true })).entries).toEqual([]);
    health = { healthy: true, output: "event bus connected; 0 agents" };
    await waitFor(async () => (await ttlCheck())?.Status === "passing", 10_000, "the check passing again");
  });

  test("consul-registration - stop deregisters the instance", async () => {
    const registration = register(() => ({ healthy: true, output: "ok" }));
    await registration.start();
    await waitFor(async () => (await ttlCheck())?.Status === "passing", 10_000, "the check passing");
    await registration.stop();
    expect((await control.healthService({ service })).entries).toEqual([]);
  });
}
