import { silentLogger } from "@vigil/common";
import { DnsDouble } from "../../../test/doubles/dns-double";
import { type DnsLookup, DnsServerSource } from "./dns-source";
import { StaticServerSource } from "./static-source";

function enotfound(name: string): Error {
  return Object.assign(new Error(`queryA ENOTFOUND ${name}`), { code: "ENOTFOUND" });
}

class FakeDns implements DnsLookup {
  srv = new Map<string, Array<{ name: string; port: number; priority: number; weight: number }>>();
  a = new Map<string, string[]>();
  aaaa = new Map<string, string[]>();
  failing = false;
  queries = 0;
  async resolveSrv(name: string) {
    this.queries++;
    if (this.failing || !this.srv.has(name)) throw enotfound(name);
    return this.srv.get(name) ?? [];
  }
  async resolve4(name: string) {
    this.queries++;
    if (this.failing || !this.a.has(name)) throw enotfound(name);
    return this.a.get(name) ?? [];
  }
  async resolve6(name: string) {
    if (this.failing || !this.aaaa.has(name)) throw enotfound(name);
    return this.aaaa.get(name) ?? [];
  }
}

describe("dns-source", () => {
  test("dns-source - SRV records: target:port, trailing dot dropped, priority kept", async () => {
    const dns = new FakeDns();
    dns.srv.set("_vigil._tcp.example.org", [
      { name: "s1.example.org.", port: 7443, priority: 10, weight: 5 },
      { name: "s2.example.org", port: 7444, priority: 20, weight: 5 },
    ]);
    const source = new DnsServerSource({
      name: "_vigil._tcp.example.org",
      refreshMs: 60_000,
      logger: silentLogger(),
      lookup: dns,
    });
    await source.start();
    expect(source.current()).toEqual([
      { address: "s1.example.org:7443", origin: "srv _vigil._tcp.example.org", priority: 10 },
      { address: "s2.example.org:7444", origin: "srv _vigil._tcp.example.org", priority: 20 },
    ]);
    await source.stop();
  });

  test("dns-source - A and AAAA records with the configured port (IPv6 bracketed)", async () => {
    const dns = new FakeDns();
    dns.a.set("servers.example.org", ["10.0.0.1", "10.0.0.2"]);
    dns.aaaa.set("servers.example.org", ["fd00::1"]);
    const source = new DnsServerSource({
      name: "servers.example.org",
      port: 7443,
      refreshMs: 60_000,
      logger: silentLogger(),
      lookup: dns,
    });
    await source.start();
    expect(source.current().map((candidate) => candidate.address)).toEqual([
      "10.0.0.1:7443",
      "10.0.0.2:7443",
      "[fd00::1]:7443",
    ]);
    await source.stop();
  });

  test("dns-source - re-resolved periodically; a failed lookup keeps the last list", async () => {
    const dns = new FakeDns();
    dns.a.set("servers.example.org", ["10.0.0.1"]);
    const source = new DnsServerSource({
      name: "servers.example.org",
      port: 7443,
      refreshMs: 50,
      logger: silentLogger(),
      lookup: dns,
    });
    const changes: string[][] = [];
    source.onChange((servers) => changes.push(servers.map((server) => server.address)));
    await source.start();
    dns.failing = true;
    await new Promise((resolve) => setTimeout(resolve, 130));
    expect(source.current().map((candidate) => candidate.address)).toEqual(["10.0.0.1:7443"]);
    expect(source.stats().lookupErrors).toBeGreaterThanOrEqual(1);
    dns.failing = false;
    dns.a.set("servers.example.org", ["10.0.0.1", "10.0.0.3"]);
    await new Promise((resolve) => setTimeout(resolve, 130));
    expect(changes).toEqual([["10.0.0.1:7443"], ["10.0.0.1:7443", "10.0.0.3:7443"]]);
    await source.stop();
    const queries = dns.queries;
    await new Promise((resolve) => setTimeout(resolve, 120));
    expect(dns.queries).toBe(queries); // stopped means stopped
  });

  test("dns-source - through node:dns against a loopback DNS server (nameservers): SRV, A and AAAA on the wire", async () => {
    const dns = await DnsDouble.start();
    try {
      dns.srv.set("_vigil._tcp.example.test", [
        { priority: 10, weight: 1, port: 7443, target: "s1.example.test" },
        { priority: 10, weight: 1, port: 7444, target: "s2.example.test" },
      ]);
      dns.a.set("servers.example.test", ["127.0.0.1", "127.0.0.2"]);
      dns.aaaa.set("servers.example.test", ["::1"]);
      const logger = silentLogger();
      const srv = new DnsServerSource({
        name: "_vigil._tcp.example.test",
        refreshMs: 60_000,
        nameservers: [dns.server],
        logger,
      });
      await srv.start();
      await srv.stop();
      expect(
        srv
          .current()
          .map((candidate) => candidate.address)
          .sort(),
      ).toEqual(["s1.example.test:7443", "s2.example.test:7444"]);
      const hosts = new DnsServerSource({
        name: "servers.example.test",
        port: 7443,
        refreshMs: 60_000,
        nameservers: [dns.server],
        logger,
      });
      await hosts.start();
      await hosts.stop();
      expect(hosts.current().map((candidate) => candidate.address)).toEqual([
        "127.0.0.1:7443",
        "127.0.0.2:7443",
        "[::1]:7443",
      ]);
      const missing = new DnsServerSource({
        name: "nowhere.example.test",
        port: 7443,
        refreshMs: 60_000,
        nameservers: [dns.server],
        logger,
      });
      await missing.start();
      await missing.stop();
      expect(missing.current()).toEqual([]);
      expect(missing.stats().lookupErrors).toBe(1);
      expect(dns.queries).toBeGreaterThanOrEqual(5);
    } finally {
      await dns.stop();
    }
  });

  test("static-source - the configured list, unchanged", async () => {
    const source = new StaticServerSource(["127.0.0.1:7443", "[::1]:7443"]);
    await source.start();
    expect(source.current().map((candidate) => candidate.address)).toEqual(["127.0.0.1:7443", "[::1]:7443"]);
  });
});
