import { silentLogger } from "@vigil/common";
import { ConsulDouble } from "../../../test/doubles/consul-double";
import { waitFor } from "../../../test/harness/wait-for";
import { serverConfigSchema } from "../config";
import { ConsulRegistration, type ServingHealth } from "./consul-registration";

const WRITE = "consul-write-token-0000-1111";

function registration(
  consul: Record<string, unknown>,
  options: { grpcHost?: string; health?: () => ServingHealth } = {},
) {
  const grpcHost = options.grpcHost ?? "127.0.0.1";
  const remote = grpcHost !== "127.0.0.1";
  const config = serverConfigSchema.parse({
    serverId: "srv-1",
    grpc: { host: grpcHost, port: 7443, ...(remote ? { tls: { certFile: "c", keyFile: "k" } } : {}) },
    consul: { register: true, ...consul },
    ...(remote ? { enrollment: { enabled: true } } : {}),
  });
  return new ConsulRegistration({
    config: config.consul,
    serverId: config.serverId,
    grpcHost: config.grpc.host,
    grpcPort: 7443,
    health: options.health ?? (() => ({ healthy: true, output: "bus connected" })),
    logger: silentLogger(),
  });
}

describe("consul-registration", () => {
  test("consul-registration - the body: service, id, gRPC address and port, a TTL check starting critical", () => {
    expect(registration({ tags: ["eu"] }).registration()).toEqual({
      ID: "vigil-server-srv-1",
      Name: "vigil-server",
      Tags: ["eu"],
      Address: "127.0.0.1",
      Port: 7443,
      Meta: { serverId: "srv-1" },
      Check: {
        CheckID: "vigil-server-srv-1:ttl",
        Name: "vigil-server serving (bus reachable)",
        TTL: "15000ms",
        Status: "critical",
        DeregisterCriticalServiceAfter: "120000ms",
      },
    });
  });

  test("consul-registration - a wildcard gRPC host leaves Address to the node; advertise overrides", () => {
    expect(registration({}, { grpcHost: "0.0.0.0" }).registration().Address).toBeUndefined();
    const advertised = registration({ advertiseAddress: "10.1.2.3", advertisePort: 443 }).registration();
    expect([advertised.Address, advertised.Port]).toEqual(["10.1.2.3", 443]);
  });

  test("consul-registration - registers with the token, retries while refused, deregisters on stop", async () => {
    const consul = await ConsulDouble.start({ acl: { tokens: { [WRITE]: "write" } } });
    try {
      consul.failNextRequests(1, 500, "rpc error: No cluster leader");
      const subject = registration({ address: consul.url, token: WRITE });
      await subject.start();
      expect(subject.isRegistered()).toBe(false);
      await waitFor(() => subject.isRegistered(), 5000, "registered on retry");
      expect(consul.instances().map((instance) => instance.id)).toEqual(["vigil-server-srv-1"]);
      await waitFor(() => consul.instances()[0]?.status === "passing", 5000, "the TTL check passing");
      expect(consul.requests.at(-1)?.token).toBe(WRITE);
      await subject.stop();
      expect(consul.instances()).toEqual([]);
    } finally {
      await consul.stop();
    }
  });

  // Passing / critical with the reason / deregistered: consul-registration-cases (double and real Consul).
  test("consul-registration - TTL: a server that stops reporting expires to critical; Consul forgetting it re-registers", async () => {
    const consul = await ConsulDouble.start();
    const subject = registration({ address: consul.url, checkTtlMs: 600 });
    try {
      await subject.start();
      const check = () => consul.checksOf("vigil-server-srv-1")[0];
      expect(check()?.status).toBe("passing");
      // Every update refused for longer than the TTL: Consul's own expiry marks it critical.
      // Ten refused updates, one every 200 ms: two seconds of silence against a 600 ms TTL.
      consul.failNextRequests(10, 500, "rpc error");
      await waitFor(() => check()?.status === "critical", 3000, "TTL expiry");
      expect(check().output).toBe("TTL expired");
      await waitFor(() => check()?.status === "passing", 3000, "passing once updates get through");

      // A Consul agent restarted without state answers 404 for the check: the server registers again.
      expect(consul.deregister("vigil-server-srv-1")).toBe(true);
      await waitFor(
        () => consul.instances().some((instance) => instance.status === "passing"),
        5000,
        "registered again",
      );
    } finally {
      await subject.stop();
      await consul.stop();
    }
  });

  test("consul-registration - config: register is off by default; a bad Consul address names the key", () => {
    expect(serverConfigSchema.parse({}).consul.register).toBe(false);
    const result = serverConfigSchema.safeParse({ consul: { address: "not a url at all" } });
    expect(result.success).toBe(false);
    expect(result.error?.issues[0].path).toEqual(["consul", "address"]);
  });
});
