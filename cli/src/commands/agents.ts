/** Agents fetched per request; the API allows up to 1000. */
const PAGE = 1000;

/** `vigil agents`: the whole fleet as the server tier sees it (every server's agents), page by page. */
export async function showAgents(api: string, token: string | undefined, json: boolean): Promise<void> {
  for (let offset = 0; ; offset += PAGE) {
    const url = new URL("/api/v1/agents", api);
    url.searchParams.set("limit", String(PAGE));
    url.searchParams.set("offset", String(offset));
    const response = await fetch(url, {
      headers: token ? { authorization: `Bearer ${token}` } : {},
    }).catch((error: Error) => {
      throw new Error(`cannot reach the Vigil API at ${api} (${error.message}); is \`npm start\` running?`);
    });
    const body = (await response.json()) as {
      agents?: Array<Record<string, unknown>>;
      total?: number;
      message?: string;
    };
    if (!response.ok) throw new Error(`API ${response.status}: ${body.message ?? JSON.stringify(body)}`);
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
