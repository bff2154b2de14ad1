import { silentLogger } from "@vigil/common";
import { ConsulDouble } from "../../../test/doubles/consul-double";
import { waitFor } from "../../../test/harness/wait-for";
import { serverConfigSchema } from "../config";
import { ConsulRegistration } from "./consul-registration";

const WRITE = "consul-write-token-0000-1111";

function registration(consul: Record<string, unknown>, hosts: { grpc?: string; api?: string } = {}) {
  const config = serverConfigSchema.parse({
    serverId: "srv-1",
    grpc: {
      host: hosts.grpc ?? "127.0.0.1",
      port: 7443,
      ...(hosts.grpc && hosts.grpc !== "127.0.0.1" ? { tls: { certFile: "c", keyFile: "k" } } : {}),
    },
    api: {
      host: hosts.api ?? "127.0.0.1",
      port: 8080,
      ...(hosts.api && hosts.api !== "127.0.0.1" ? { token: "api-token-0123456789" } : {}),
    },
    consul: { register: true, ...consul },
    ...(hosts.grpc && hosts.grpc !== "127.0.0.1" ? { enrollment: { storePath: "enrollment.db" } } : {}),
  });
  return new ConsulRegistration({
    config: config.consul,
    serverId: config.serverId,
    grpcHost: config.grpc.host,
    grpcPort: 7443,
    apiHost: config.api.host,
    apiPort: 8080,
    logger: silentLogger(),
  });
}

describe("consul-registration", () => {
  test("consul-registration - the body: service, id, gRPC address and port, HTTP check on /healthz", () => {
    expect(registration({ tags: ["eu"] }).registration()).toEqual({
      ID: "vigil-server-srv-1",
      Name: "vigil-server",
      Tags: ["eu"],
      Address: "127.0.0.1",
      Port: 7443,
      Meta: { serverId: "srv-1" },
      Check: {
        CheckID: "vigil-server-srv-1:healthz",
        Name: "vigil-server /healthz",
        HTTP: "http://127.0.0.1:8080/healthz",
        Interval: "5000ms",
        Timeout: "2000ms",
        DeregisterCriticalServiceAfter: "120000ms",
      },
    });
  });

  test("consul-registration - a wildcard gRPC host leaves Address to the node; the check goes to loopback", () => {
    const body = registration({}, { grpc: "0.0.0.0", api: "0.0.0.0" }).registration();
    expect(body.Address).toBeUndefined();
    expect(body.Check?.HTTP).toBe("http://127.0.0.1:8080/healthz");
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
      expect(consul.requests.at(-1)?.token).toBe(WRITE);
      await subject.stop();
      expect(consul.instances()).toEqual([]);
    } finally {
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
