// Pins the wire behaviour the Consul double answers with, so discovery tests
// against it mean something: these are what a real Consul 1.x agent does.

import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { waitFor } from "../harness/wait-for";
import { ConsulDouble, parseGoDuration } from "./consul-double";

describe("consul-double", () => {
  let consul: ConsulDouble;
  afterEach(async () => {
    await consul.stop();
  });

  const call = async (method: string, path: string, body?: unknown, token?: string) => {
    const response = await fetch(consul.url + path, {
      method,
      headers: token ? { "X-Consul-Token": token } : {},
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, headers: response.headers, text, json: () => JSON.parse(text) };
  };

  test("consul-double - health answers carry X-Consul-Index and leader headers; entries have Node, Service, Checks", async () => {
    consul = await ConsulDouble.start();
    expect(
      (
        await call("PUT", "/v1/agent/service/register", {
          Name: "web",
          Port: 80,
          Check: { TTL: "30s", Status: "passing" },
        })
      ).status,
    ).toBe(200);
    const answer = await call("GET", "/v1/health/service/web?passing=true");
    expect(answer.status).toBe(200);
    expect(Number(answer.headers.get("x-consul-index"))).toBeGreaterThan(0);
    expect(answer.headers.get("x-consul-knownleader")).toBe("true");
    expect(answer.headers.get("content-type")).toBe("application/json");
    const [entry] = answer.json();
    expect(entry.Node).toMatchObject({ Node: "node-1", Address: "127.0.0.1", Datacenter: "dc1" });
    expect(entry.Service).toMatchObject({ ID: "web", Service: "web", Port: 80, Address: "" });
    expect(entry.Checks.map((check: { CheckID: string }) => check.CheckID)).toEqual([
      "serfHealth",
      "service:web",
    ]);
  });

  test("consul-double - a blocking query is held until a change, or until wait (plus up to wait/16)", async () => {
    consul = await ConsulDouble.start();
    await call("PUT", "/v1/agent/service/register", {
      Name: "web",
      Port: 80,
      Check: { TTL: "30s", Status: "passing" },
    });
    const index = (await call("GET", "/v1/health/service/web")).headers.get("x-consul-index");
    let started = Date.now();
    const timedOut = await call("GET", `/v1/health/service/web?index=${index}&wait=200ms`);
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
    expect(timedOut.headers.get("x-consul-index")).toBe(index);
    started = Date.now();
    const held = call("GET", `/v1/health/service/web?index=${index}&wait=30s`);
    await waitFor(() => consul.heldQueries() === 1, 2000, "held");
    await call("PUT", "/v1/agent/check/fail/service:web?note=down");
    const woken = await held;
    expect(Date.now() - started).toBeLessThan(2000);
    expect(Number(woken.headers.get("x-consul-index"))).toBeGreaterThan(Number(index));
    expect(woken.json()[0].Checks[1]).toMatchObject({ Status: "critical", Output: "down" });
    expect((await call("GET", "/v1/health/service/web?passing")).json()).toEqual([]);
  });

  test("consul-double - HTTP checks start critical and are polled; TTL checks expire", async () => {
    consul = await ConsulDouble.start();
    let healthy = true;
    const target: Server = createServer((_request, response) => {
      response.statusCode = healthy ? 200 : 503;
      response.end("ok");
    });
    await new Promise<void>((resolve) => target.listen(0, "127.0.0.1", resolve));
    const url = `http://127.0.0.1:${(target.address() as AddressInfo).port}/healthz`;
    await call("PUT", "/v1/agent/service/register", {
      Name: "api",
      ID: "api-1",
      Port: 1,
      Check: { HTTP: url, Interval: "50ms" },
    });
    await waitFor(() => consul.instances()[0].status === "passing", 2000, "HTTP check passing");
    healthy = false;
    await waitFor(() => consul.instances()[0].status === "critical", 2000, "HTTP check critical");
    await new Promise<void>((resolve) => target.close(() => resolve()));
    await call("PUT", "/v1/agent/service/register", {
      Name: "ttl",
      Port: 2,
      Check: { TTL: "100ms", Status: "passing" },
    });
    await waitFor(
      () => consul.instances().find((instance) => instance.name === "ttl")?.status === "critical",
      2000,
      "TTL expired",
    );
  });

  test("consul-double - errors as Consul gives them: validation 400, 405, unknown service 404, ACLs 403", async () => {
    consul = await ConsulDouble.start({ acl: { tokens: { reader: "read", writer: "write" } } });
    expect((await call("PUT", "/v1/agent/service/register", { Port: 1 }, "writer")).text).toBe(
      "Missing service name",
    );
    expect((await call("GET", "/v1/agent/service/register", undefined, "writer")).status).toBe(405);
    expect((await call("PUT", "/v1/agent/service/deregister/nope", undefined, "writer")).status).toBe(404);
    expect((await call("GET", "/v1/health/service/web", undefined, "unknown-token")).text).toBe(
      "ACL not found",
    );
    expect((await call("PUT", "/v1/agent/service/register", { Name: "web" }, "reader")).status).toBe(403);
    const anonymous = await call("GET", "/v1/health/service/web");
    expect(anonymous.status).toBe(200);
    expect(anonymous.headers.get("x-consul-results-filtered-by-acls")).toBe("true");
    expect((await call("GET", "/v1/health/service/web?dc=elsewhere", undefined, "reader")).text).toBe(
      "No path to datacenter",
    );
  });

  test("consul-double - Go durations", () => {
    expect([
      parseGoDuration("10s"),
      parseGoDuration("1m30s"),
      parseGoDuration("250ms"),
      parseGoDuration("5"),
    ]).toEqual([10_000, 90_000, 250, undefined]);
  });
});
