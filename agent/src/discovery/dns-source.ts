import { Resolver } from "node:dns/promises";
import type { Logger } from "@vigil/common";
import { BaseServerSource, hostPort } from "./base-source";
import type { ServerCandidate } from "./types";

/** The node:dns calls the source makes (a Resolver; tests pass their own). */
export interface DnsLookup {
  resolveSrv(name: string): Promise<Array<{ name: string; port: number; priority: number; weight: number }>>;
  resolve4(name: string): Promise<string[]>;
  resolve6(name: string): Promise<string[]>;
}

export interface DnsServerSourceOptions {
  /** An SRV name (`_vigil._tcp.example.org`), or a host name whose A/AAAA records are servers on `port`. */
  name: string;
  /** Set: `name` is resolved for A and AAAA records, each a server on this port. Unset: SRV. */
  port?: number;
  /** How often the name is resolved again. */
  refreshMs: number;
  /** "ip" or "ip:port" of the name servers to ask (default: the system's). */
  nameservers?: readonly string[];
  /** Longest start() waits for the first answer. */
  initialWaitMs?: number;
  logger: Logger;
  lookup?: DnsLookup;
}

/**
 * Servers from DNS, resolved again every refreshMs. SRV records give host and
 * port (targets in a lower priority group rank first; weights are not used:
 * rendezvous hashing spreads the agents). A lookup that fails keeps the last
 * list: a DNS outage must not take every server away.
 */
export class DnsServerSource extends BaseServerSource {
  readonly mode = "dns" as const;
  private readonly lookup: DnsLookup;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly counters = { lookups: 0, lookupErrors: 0 };

  constructor(private readonly options: DnsServerSourceOptions) {
    super();
    if (options.lookup) {
      this.lookup = options.lookup;
    } else {
      const resolver = new Resolver();
      if (options.nameservers && options.nameservers.length > 0)
        resolver.setServers([...options.nameservers]);
      this.lookup = resolver;
    }
  }

  async start(): Promise<void> {
    const first = this.refresh();
    const wait = this.options.initialWaitMs ?? 5000;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([first, new Promise<void>((resolve) => (timer = setTimeout(resolve, wait)))]);
    clearTimeout(timer);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  stats(): Record<string, number> {
    return { ...this.counters, candidates: this.servers.length, changes: this.changes };
  }

  /** Resolves once now and schedules the next round. */
  async refresh(): Promise<void> {
    clearTimeout(this.timer);
    this.counters.lookups++;
    try {
      const servers = await this.resolve();
      if (this.stopped) return;
      if (this.update(servers)) {
        this.options.logger.info(
          { name: this.options.name, servers: servers.map((server) => server.address) },
          "servers from DNS changed",
        );
      }
    } catch (error) {
      this.counters.lookupErrors++;
      this.options.logger.warn(
        { name: this.options.name, err: error, kept: this.servers.length },
        "DNS lookup of servers failed: keeping the last list",
      );
    }
    if (!this.stopped) {
      this.timer = setTimeout(() => void this.refresh(), this.options.refreshMs);
      this.timer.unref();
    }
  }

  private async resolve(): Promise<ServerCandidate[]> {
    const { name, port } = this.options;
    if (port === undefined) {
      const records = await this.lookup.resolveSrv(name);
      return records.map((record) => ({
        address: hostPort(record.name.replace(/\.$/, ""), record.port),
        origin: `srv ${name}`,
        priority: record.priority,
      }));
    }
    const [v4, v6] = await Promise.allSettled([this.lookup.resolve4(name), this.lookup.resolve6(name)]);
    if (v4.status === "rejected" && v6.status === "rejected") throw v4.reason;
    const addresses = [
      ...(v4.status === "fulfilled" ? v4.value : []),
      ...(v6.status === "fulfilled" ? v6.value : []),
    ];
    return addresses.map((address) => ({ address: hostPort(address, port), origin: `dns ${name}` }));
  }
}
