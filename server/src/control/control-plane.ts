import type { AgentPolicy, Bus, Logger } from "@vigil/common";
import { AgentConfigPusher } from "../policy/agent-config-pusher";
import { AgentConfigStore } from "../policy/agent-config-store";
import { FleetTasks } from "../tasks/fleet-tasks";
import { type AgentControl, type AgentLink, combineAgentControls } from "./agent-link";
import type { TargetableAgent } from "./agent-target";

export interface ControlPlane {
  /** What every agent session tells: attach, detach, task results. */
  readonly control: AgentControl;
  readonly config: AgentConfigStore;
  readonly pusher: AgentConfigPusher;
  readonly tasks: FleetTasks;
  /** An agent connected to this server, as config and tasks target it. */
  connectedAgent(agentId: string): TargetableAgent | undefined;
  close(): void;
}

/**
 * Agent config documents and fleet tasks, both in KV buckets every server
 * watches (seeding the fleet default from `seedPolicy` when there is none).
 */
export async function startControlPlane(
  bus: Bus,
  options: { serverId: string; seedPolicy: AgentPolicy; logger: Logger },
): Promise<ControlPlane> {
  const config = await AgentConfigStore.open(
    bus,
    options.seedPolicy,
    options.logger.child({ component: "agent-config" }),
  );
  const pusher = new AgentConfigPusher(config, options.logger.child({ component: "agent-config" }));
  const tasks = await FleetTasks.open(bus, {
    serverId: options.serverId,
    logger: options.logger.child({ component: "tasks" }),
  });
  const links = new Map<string, AgentLink>();
  const tracked: AgentControl = {
    attached: (link) => links.set(link.agentId, link),
    detached: (link) => {
      if (links.get(link.agentId)?.sessionId === link.sessionId) links.delete(link.agentId);
    },
    taskResult: () => undefined,
  };
  return {
    control: combineAgentControls(tracked, pusher, tasks),
    config,
    pusher,
    tasks,
    connectedAgent: (agentId) => {
      const link = links.get(agentId);
      return link && { agentId: link.agentId, labels: link.labels, groups: link.groups };
    },
    close: () => {
      pusher.close();
      tasks.close();
      config.close();
    },
  };
}
