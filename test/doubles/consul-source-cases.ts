// Core Consul discovery cases, run against the loopback double and, when
// CONSUL_HTTP_ADDR is set, against a real Consul. Instances are registered
// through the agent API with TTL checks and their health is set with
// /v1/agent/check/update, so both targets are driven the same way.

import { randomBytes } from "node:crypto";
import { ConsulClient, type ConsulConnection, silentLogger } from "@vigil/common";
import { ConsulServerSource } from "../../agent/src/discovery/consul-source";
import { waitFor } from "../harness/wait-for";

export interface ConsulTarget {
  connection: ConsulConnection;
}

export function defineConsulSourceCases(target: () => ConsulTarget): void {
  let service: string;
  let control: ConsulClient;
  let registered: string[];
  const sources: ConsulServerSource[] = [];

  beforeEach(() => {
    service = `vigil-server-test-${randomBytes(4).toString("hex")}`;
    control = new ConsulClient(target().connection);
    registered = [];
  });

  afterEach(async () => {
    for (const source of sources.splice(0)) await source.stop();
    for (const id of registered) await control.deregisterService(id).catch(() => undefined);
    await control.close();
  });

  async function register(suffix: string, port: number, options: { address?: string; tags?: string[] } = {}) {
    const id = `${service}-${suffix}`;
    await control.registerService({
      ID: id,
      Name: service,
      Port: port,
      Address: options.address,
      Tags: options.tags,
      Check: { CheckID: `${id}-ttl`, TTL: "10m", Status: "passing" },
    });
    registered.push(id);
    return id;
  }

  async function startSource(tags: string[] = []) {
    const source = new ConsulServerSource({
      client: new ConsulClient(target().connection),
      service,
      tags,
      waitMs: 30_000,
      minIntervalMs: 10,
      backoffInitialMs: 50,
      backoffMaxMs: 200,
      logger: silentLogger(),
    });
    sources.push(source);
    await source.start();
    return source;
  }

  const ports = (source: ConsulServerSource) =>
    source
      .current()
      .map((candidate) => Number(candidate.address.slice(candidate.address.lastIndexOf(":") + 1)))
      .sort((a, b) => a - b);

  test("consul-source - lists the passing instances; Service.Address, else the node's address", async () => {
    await register("a", 17001, { address: "127.0.0.2" });
    await register("b", 17002);
    const source = await startSource();
    expect(ports(source)).toEqual([17001, 17002]);
    const byPort = new Map(
      source.current().map((candidate) => [candidate.address.split(":").pop(), candidate]),
    );
    expect(byPort.get("17001")?.address).toBe("127.0.0.2:17001");
    const [entry] = (await control.healthService({ service })).entries.filter(
      (e) => e.Service.Port === 17002,
    );
    const nodeHost = entry.Node.Address.includes(":") ? `[${entry.Node.Address}]` : entry.Node.Address;
    expect(byPort.get("17002")?.address).toBe(`${nodeHost}:17002`);
  });

  test("consul-source - a check going critical takes the instance away at once, and passing brings it back", async () => {
    const a = await register("a", 17011);
    await register("b", 17012);
    const source = await startSource();
    expect(ports(source)).toEqual([17011, 17012]);
    const changes: number[][] = [];
    source.onChange(() => changes.push(ports(source)));
    const before = Date.now();
    await control.updateTtlCheck(`${a}-ttl`, "critical", "test: down");
    await waitFor(() => ports(source).length === 1, 5000, "critical instance gone");
    // Woken by the change, far sooner than the 30 s blocking wait.
    expect(Date.now() - before).toBeLessThan(5000);
    expect(ports(source)).toEqual([17012]);
    await control.updateTtlCheck(`${a}-ttl`, "warning", "test: degraded");
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(ports(source)).toEqual([17012]); // warning is not passing
    await control.updateTtlCheck(`${a}-ttl`, "passing", "test: up");
    await waitFor(() => ports(source).length === 2, 5000, "instance back");
    expect(changes).toEqual([[17012], [17011, 17012]]);
  });

  test("consul-source - only instances with every configured tag", async () => {
    await register("a", 17021, { tags: ["grpc"] });
    await register("b", 17022, { tags: ["grpc", "eu"] });
    await register("c", 17023, { tags: ["eu"] });
    const source = await startSource(["grpc", "eu"]);
    expect(ports(source)).toEqual([17022]);
  });

  test("consul-source - a deregistered instance leaves the list, a new one joins it", async () => {
    const a = await register("a", 17031);
    const source = await startSource();
    expect(ports(source)).toEqual([17031]);
    await register("b", 17032);
    await waitFor(() => ports(source).length === 2, 5000, "new instance");
    await control.deregisterService(a);
    registered = registered.filter((id) => id !== a);
    await waitFor(() => ports(source).join() === "17032", 5000, "deregistered instance gone");
    expect(source.stats().queryErrors).toBe(0);
  });
}
