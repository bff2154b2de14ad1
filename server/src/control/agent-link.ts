import type { ConfigUpdate, Task, TaskResult } from "@vigil/proto";

/**
 * An agent stream on this server instance, past Welcome, as the control
 * plane (agent config, fleet tasks) sees it: who the agent says it is (its
 * labels and groups, which config documents and tasks target) and how to
 * reach it. The gRPC session builds one per stream.
 */
export interface AgentLink {
  readonly agentId: string;
  readonly sessionId: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly groups: readonly string[];
  /** Writes a ConfigUpdate on the stream; false when the stream has ended. */
  sendConfig(update: ConfigUpdate): boolean;
  /** Writes a Task on the stream; false when the stream has ended. */
  sendTask(task: Task): boolean;
}

/** What the gRPC session tells the control plane about its stream. */
export interface AgentControl {
  /** The agent said Hello and got Welcome: send it its config and pending tasks. */
  attached(link: AgentLink): void;
  /** The stream ended, whatever the reason. */
  detached(link: AgentLink): void;
  /** The agent answered a task on this stream. */
  taskResult(link: AgentLink, result: TaskResult): void;
}

/** Composes several control-plane parts into the one hook the session calls. */
export function combineAgentControls(...parts: AgentControl[]): AgentControl {
  return {
    attached: (link) => {
      for (const part of parts) part.attached(link);
    },
    detached: (link) => {
      for (const part of parts) part.detached(link);
    },
    taskResult: (link, result) => {
      for (const part of parts) part.taskResult(link, result);
    },
  };
}
