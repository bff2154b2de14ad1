import { DRIVER_HOOK_NAMES, Gauge, type Registry } from "@vigil/common";
import type { AgentRegistry } from "./agent-registry";

/**
 * Collector counters summed over the online agents on /metrics. A fixed list,
 * so label cardinality stays bounded whatever agents send; every counter
 * stays available per agent in /api/v1/agents.
 */
export const FLEET_COUNTERS: readonly string[] = [
  "driver.driverDropped",
  "driver.decodeErrors",
  "driver.readErrors",
  "driver.filterUpdatesRefused",
  "driver.allowExecutablesMissing",
  "ftrace.kernelDropped",
  "ftrace.kernelOverrun",
  ...DRIVER_HOOK_NAMES.map((hook) => `driver.hookDrops.${hook}`),
];

/** Gauges computed from the agent registry at scrape time. */
export function registerAgentFleetMetrics(
  metrics: Registry,
  agents: AgentRegistry,
  policyVersion: () => number,
): void {
  new Gauge({
    name: "vigil_server_agent_policy_version",
    help: "Version of the agent policy this server pushes",
    registers: [metrics],
    collect() {
      this.set(policyVersion());
    },
  });
  new Gauge({
    name: "vigil_server_agents_policy_pending",
    help: "Online agents whose last heartbeat does not report the current policy version applied",
    registers: [metrics],
    collect() {
      const version = policyVersion();
      let pending = 0;
      for (const agent of agents.list()) {
        if (agent.online && agent.counters?.config?.appliedVersion !== version) pending++;
      }
      this.set(pending);
    },
  });
  new Gauge({
    name: "vigil_server_agents_policy_rejected",
    help: "Online agents whose last policy update was rejected (bad value, or the driver refused it)",
    registers: [metrics],
    collect() {
      let rejected = 0;
      for (const agent of agents.list()) if (agent.online && agent.counters?.config?.lastError) rejected++;
      this.set(rejected);
    },
  });
  new Gauge({
    name: "vigil_server_agent_collector_counter",
    help: "Collector counters summed over online agents (cumulative per agent; drops and errors)",
    labelNames: ["counter"],
    registers: [metrics],
    collect() {
      const sums = new Map<string, number>(FLEET_COUNTERS.map((counter) => [counter, 0]));
      for (const agent of agents.list()) {
        const values = agent.counters?.collectorCounters;
        if (!agent.online || !values) continue;
        for (const counter of FLEET_COUNTERS) {
          const value = values[counter];
          if (value !== undefined) sums.set(counter, (sums.get(counter) ?? 0) + value);
        }
      }
      for (const [counter, value] of sums) this.set({ counter }, value);
    },
  });
}
