import { ConsulClient, type Logger, resolveConsulConnection } from "@vigil/common";
import type { AgentConfig } from "../config";
import { ConsulServerSource } from "./consul-source";
import { DnsServerSource } from "./dns-source";
import { ServerSelector } from "./server-selector";
import { StaticServerSource } from "./static-source";
import type { ServerSource } from "./types";

/** The source `discovery.mode` names, built from the agent's config. */
export function createServerSource(config: AgentConfig, logger: Logger): ServerSource {
  const { discovery } = config;
  const mode = discovery.mode;
  switch (mode) {
    case "static":
      return new StaticServerSource(config.servers);
    case "dns":
      return new DnsServerSource({
        name: discovery.dns.name as string,
        port: discovery.dns.port,
        refreshMs: discovery.dns.refreshMs,
        nameservers: discovery.dns.nameservers,
        logger,
      });
    case "consul": {
      const { consul } = discovery;
      return new ConsulServerSource({
        client: new ConsulClient(resolveConsulConnection(consul)),
        service: consul.service,
        tags: consul.tags,
        waitMs: consul.waitMs,
        backoffInitialMs: config.transport.backoffInitialMs,
        backoffMaxMs: config.transport.backoffMaxMs,
        logger,
      });
    }
    default: {
      const unreachable: never = mode;
      return unreachable;
    }
  }
}

/** The selector over `source` with the agent's rebalance and failover settings. */
export function createServerSelector(
  config: AgentConfig,
  agentId: string,
  source: ServerSource,
  logger: Logger,
): ServerSelector {
  const { discovery } = config;
  return new ServerSelector({
    agentId,
    source,
    fallback: discovery.mode === "consul" ? discovery.consul.fallbackServers : [],
    tls: config.tls !== undefined,
    failedCooldownMs: discovery.failedCooldownMs,
    rebalanceMinMs: discovery.rebalanceMinMs,
    rebalanceMaxMs: discovery.rebalanceMaxMs,
    logger,
  });
}
