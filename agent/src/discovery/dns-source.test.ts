import { silentLogger } from "@vigil/common";
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

  test("dns-source - through node:dns against the system resolver: localhost has an A record", async () => {
    const source = new DnsServerSource({
      name: "localhost",
      port: 7443,
      refreshMs: 60_000,
      nameservers: [],
      logger: silentLogger(),
    });
    await source.start();
    await source.stop();
    // Resolver.resolve4 asks DNS, not /etc/hosts: either an answer or an error counted, never a throw.
    expect(source.stats().lookups).toBe(1);
  });

  test("static-source - the configured list, unchanged", async () => {
    const source = new StaticServerSource(["127.0.0.1:7443", "[::1]:7443"]);
    await source.start();
    expect(source.current().map((candidate) => candidate.address)).toEqual(["127.0.0.1:7443", "[::1]:7443"]);
  });
});
