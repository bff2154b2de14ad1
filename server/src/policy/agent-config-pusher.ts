import type { Logger } from "@vigil/common";
import type { AgentControl, AgentLink } from "../control/agent-link";
import type { AgentConfigStore } from "./agent-config-store";

interface Pushed {
  link: AgentLink;
  version: number;
  /** JSON of the settings last sent, to tell a real change from a version-only one. */
  settings: string;
}

/**
 * Sends each agent connected to this server its effective policy: after
 * Welcome, and again whenever a change in the config bucket (made through
 * any server) changes what that agent gets. An agent whose settings did not
 * change is not disturbed.
 */
export class AgentConfigPusher implements AgentControl {
  private readonly links = new Map<string, Pushed>();
  private readonly unsubscribe: () => void;

  constructor(
    private readonly store: AgentConfigStore,
    private readonly logger: Logger,
  ) {
    this.unsubscribe = store.subscribe(() => this.refresh());
  }

  attached(link: AgentLink): void {
    const pushed: Pushed = { link, version: 0, settings: "" };
    this.links.set(link.sessionId, pushed);
    this.push(pushed, true);
  }

  detached(link: AgentLink): void {
    this.links.delete(link.sessionId);
  }

  taskResult(): void {}

  /** The version last sent on `sessionId`'s stream (0: none). */
  sentVersion(sessionId: string): number {
    return this.links.get(sessionId)?.version ?? 0;
  }

  close(): void {
    this.unsubscribe();
    this.links.clear();
  }

  private refresh(): void {
    let pushed = 0;
    for (const entry of this.links.values()) if (this.push(entry, false)) pushed++;
    if (pushed > 0)
      this.logger.info({ agents: pushed }, "agent config pushed to connected agents whose policy changed");
  }

  private push(entry: Pushed, always: boolean): boolean {
    const effective = this.store.effectiveFor(entry.link);
    const settings = JSON.stringify(effective.settings);
    if (!always && settings === entry.settings) return false;
    // Skipped documents are shown by GET /api/v1/agents/:id/effective-config, not logged per agent.
    if (!entry.link.sendConfig({ version: effective.version, settings: effective.settings })) return false;
    entry.version = effective.version;
    entry.settings = settings;
    return true;
  }
}
