import { type Bus, connectNatsBus, type Logger } from "@vigil/common";
import { serverConfigSchema, startVigilServer, type VigilServer } from "@vigil/server";

// Integration tests that run several server instances against one real
// nats-server: each server gets its own bus connection (as separate hosts
// would), and close() ends every server and connection it started.

export class ServersOnNats {
  private readonly buses: Bus[] = [];
  private readonly servers: VigilServer[] = [];

  constructor(
    private readonly natsUrl: () => string,
    private readonly logger: Logger,
  ) {}

  /** A server `serverId` configured by `config` (the server config shape, serverId set here). */
  async start(serverId: string, config: Record<string, unknown>): Promise<VigilServer> {
    const bus = await connectNatsBus({ servers: [this.natsUrl()], name: serverId, logger: this.logger });
    this.buses.push(bus);
    const server = await startVigilServer({
      config: serverConfigSchema.parse({ ...config, serverId }),
      bus,
      logger: this.logger,
    });
    this.servers.push(server);
    return server;
  }

  async close(): Promise<void> {
    for (const server of this.servers.splice(0)) await server.close(0);
    for (const bus of this.buses.splice(0)) await bus.close();
  }
}

export interface ApiAnswer {
  status: number;
  body: Record<string, unknown>;
}

/** One call to a server's REST API (plain HTTP on loopback); `token` as bearer when given. */
export async function apiCall(
  server: VigilServer,
  method: string,
  path: string,
  options: { body?: unknown; token?: string } = {},
): Promise<ApiAnswer> {
  const { body, token } = options;
  const response = await fetch(`http://127.0.0.1:${server.apiPort}${path}`, {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}
