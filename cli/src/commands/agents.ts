/** `vigil agents`: the fleet as the server sees it. */
export async function showAgents(api: string, token: string | undefined, json: boolean): Promise<void> {
  const response = await fetch(new URL("/api/v1/agents", api), {
    headers: token ? { authorization: `Bearer ${token}` } : {},
  }).catch((error: Error) => {
    throw new Error(`cannot reach the Vigil API at ${api} (${error.message}); is \`npm start\` running?`);
  });
  const body = (await response.json()) as { agents?: Array<Record<string, unknown>>; message?: string };
  if (!response.ok) throw new Error(`API ${response.status}: ${body.message ?? JSON.stringify(body)}`);
  for (const agent of body.agents ?? []) {
    process.stdout.write(
      json
        ? `${JSON.stringify(agent)}\n`
        : `${String(agent.agentId).padEnd(38)} ${String(agent.hostname).padEnd(24)} ${agent.online ? "online " : "offline"} last seen ${String(agent.lastSeen)}  events ${String(agent.eventsReceived)}\n`,
    );
  }
}
