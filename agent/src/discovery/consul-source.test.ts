import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConsulClient, createLogger, silentLogger } from "@vigil/common";
import { ConsulDouble } from "../../../test/doubles/consul-double";
import { defineConsulSourceCases } from "../../../test/doubles/consul-source-cases";
import { waitFor } from "../../../test/harness/wait-for";
import { ConsulServerSource } from "./consul-source";

describe("consul-source (loopback Consul double)", () => {
  let double: ConsulDouble;
  beforeEach(async () => {
    double = await ConsulDouble.start();
  });
  afterEach(async () => {
    await double.stop();
  });

  defineConsulSourceCases(() => ({
    connection: { address: double.url, token: undefined, caFile: undefined, datacenter: undefined },
  }));
});

describe("consul-source - protocol edge cases (double)", () => {
  const TOKEN = "b1gs3cr3t-0000-1111-2222-333344445555";
  let double: ConsulDouble;
  let source: ConsulServerSource | undefined;

  afterEach(async () => {
    await source?.stop();
    source = undefined;
    await double.stop();
  });

  function newSource(
    options: { token?: string; caFile?: string; datacenter?: string; url?: string; waitMs?: number } = {},
    logger = silentLogger(),
  ) {
    source = new ConsulServerSource({
      client: new ConsulClient({
        address: options.url ?? double.url,
        token: options.token,
        caFile: options.caFile,
        datacenter: options.datacenter,
      }),
      service: "vigil-server",
      tags: [],
      waitMs: options.waitMs ?? 20_000,
      minIntervalMs: 5,
      backoffInitialMs: 20,
      backoffMaxMs: 100,
      initialWaitMs: 300,
      logger,
    });
    return source;
  }

  test("consul-source - blocking queries carry index and wait; the index from X-Consul-Index", async () => {
    double = await ConsulDouble.start();
    double.registerOn("node-1", { id: "s1", name: "vigil-server", port: 7443 });
    await newSource().start();
    await waitFor(() => double.heldQueries() === 1, 2000, "a held blocking query");
    const queries = double.requests.filter((request) => request.path === "/v1/health/service/vigil-server");
    expect(queries[0].query).toEqual({ passing: ["true"] });
    expect(queries[1].query.index?.[0]).toMatch(/^\d+$/);
    expect(Number(queries[1].query.index?.[0])).toBeGreaterThan(0);
    expect(queries[1].query.wait).toEqual(["20000ms"]);
  });

  test("consul-source - an index that goes backwards restarts from 0; an index of 0 is taken as 1", async () => {
    double = await ConsulDouble.start();
    double.registerOn("node-1", { id: "s1", name: "vigil-server", port: 7443 });
    double.overrideNextIndexes(50, 7, 0);
    // A short wait: the query at 50 is held until it times out (Consul's real index is lower).
    const s = newSource({ waitMs: 100 });
    await s.start();
    await waitFor(() => double.requests.length >= 4, 2000, "four queries");
    const indexes = double.requests.slice(0, 4).map((request) => request.query.index?.[0] ?? "none");
    // 50 → query at 50; 7 < 50 → reset, non-blocking; 0 → treated as 1.
    expect(indexes).toEqual(["none", "50", "none", "1"]);
    expect(s.stats().indexResets).toBe(1);
  });

  test("consul-source - errors back off, keep the last list, and recovery resumes", async () => {
    double = await ConsulDouble.start();
    double.registerOn("node-1", { id: "s1", name: "vigil-server", port: 7443 });
    const s = newSource();
    await s.start();
    expect(s.current()).toHaveLength(1);
    double.failNextRequests(3);
    double.registerOn("node-1", { id: "s2", name: "vigil-server", port: 7444 }); // wakes the held query
    await waitFor(() => s.current().length === 2, 5000, "recovered with the new list");
    expect(s.stats().queryErrors).toBeGreaterThanOrEqual(2);
  });

  test("consul-source - the ACL token goes in X-Consul-Token, never into a log line or URL", async () => {
    double = await ConsulDouble.start({ acl: { tokens: { [TOKEN]: "read" } } });
    double.registerOn("node-1", { id: "s1", name: "vigil-server", port: 7443 });
    const lines: string[] = [];
    const logger = createLogger({
      name: "t",
      level: "debug",
      destination: { write: (line: string) => lines.push(line) },
    });
    // Wrong token: 403 ACL not found, logged without the token.
    const bad = newSource({ token: "wrong-token-aaaa-bbbb" }, logger);
    await bad.start();
    await waitFor(() => bad.stats().queryErrors >= 1, 2000, "refused query");
    await bad.stop();
    expect(lines.join("\n")).toContain("HTTP 403: ACL not found");
    // Right token: the instance.
    const good = newSource({ token: TOKEN }, logger);
    await good.start();
    expect(good.current().map((candidate) => candidate.address)).toEqual(["127.0.0.1:7443"]);
    expect(double.requests.at(-1)?.token).toBe(TOKEN);
    expect(double.requests.every((request) => !JSON.stringify(request.query).includes(TOKEN))).toBe(true);
    expect(lines.join("\n")).not.toContain(TOKEN);
    expect(lines.join("\n")).not.toContain("wrong-token-aaaa-bbbb");
  });

  test("consul-source - without a token ACLs filter the answer to nothing", async () => {
    double = await ConsulDouble.start({ acl: { tokens: { [TOKEN]: "read" } } });
    double.registerOn("node-1", { id: "s1", name: "vigil-server", port: 7443 });
    const s = newSource();
    await s.start();
    expect(s.current()).toEqual([]);
    expect(s.hasAnswered()).toBe(true);
  });

  test("consul-source - datacenter goes as dc; a datacenter Consul cannot reach is an error", async () => {
    double = await ConsulDouble.start({ datacenter: "eu1" });
    double.registerOn("node-1", { id: "s1", name: "vigil-server", port: 7443 });
    const s = newSource({ datacenter: "us9" });
    await s.start();
    await waitFor(() => s.stats().queryErrors >= 1, 2000, "an error");
    expect(double.requests[0].query.dc).toEqual(["us9"]);
    expect(s.current()).toEqual([]);
  });

  test("consul-source - HTTPS to Consul with the configured CA", async () => {
    const dir = mkdtempSync(join(tmpdir(), "vigil-consul-tls-"));
    execFileSync(
      "openssl",
      [
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=127.0.0.1",
        "-addext",
        "subjectAltName=IP:127.0.0.1",
        "-keyout",
        join(dir, "key.pem"),
        "-out",
        join(dir, "cert.pem"),
      ],
      { stdio: "ignore" },
    );
    double = await ConsulDouble.start({
      tls: { cert: readFileSync(join(dir, "cert.pem")), key: readFileSync(join(dir, "key.pem")) },
    });
    double.registerOn("node-1", { id: "s1", name: "vigil-server", port: 7443 });
    expect(double.url).toMatch(/^https:/);
    // Without the CA the certificate is refused...
    const untrusting = newSource();
    await untrusting.start();
    await waitFor(() => untrusting.stats().queryErrors >= 1, 2000, "TLS refusal");
    await untrusting.stop();
    // ...with it, the instance.
    const trusting = newSource({ caFile: join(dir, "cert.pem") });
    await trusting.start();
    expect(trusting.current().map((candidate) => candidate.address)).toEqual(["127.0.0.1:7443"]);
  });
});
