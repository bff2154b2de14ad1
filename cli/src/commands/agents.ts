import { apiRequest } from "./api-client";

/** Agents fetched per request; the API allows up to 1000. */
const PAGE = 1000;

/** `vigil agents`: the whole fleet as the server tier sees it (every server's agents), page by page. */
export async function showAgents(api: string, token: string | undefined, json: boolean): Promise<void> {
  for (let offset = 0; ; offset += PAGE) {
    const body = await apiRequest<{ agents?: Array<Record<string, unknown>>; total?: number }>(
      { api, token },
      "GET",
      `/api/v1/agents?${new URLSearchParams({ limit: String(PAGE), offset: String(offset) })}`,
    );
    const agents = body.agents ?? [];
    for (const agent of agents) {
      process.stdout.write(
        json
          ? `${JSON.stringify(agent)}\n`
          : `${String(agent.agentId).padEnd(38)} ${String(agent.hostname).padEnd(24)} ${String(agent.status).padEnd(7)} server ${String(agent.serverId)} last seen ${String(agent.lastSeen)}  events ${String(agent.eventsReceived)}\n`,
      );
    }
    if (agents.length < PAGE || offset + agents.length >= (body.total ?? 0)) return;
  }
}
