import { BaseServerSource } from "./base-source";

/** The configured `servers` list, as it is: it never changes. */
export class StaticServerSource extends BaseServerSource {
  readonly mode = "static" as const;

  constructor(servers: readonly string[]) {
    super();
    this.servers = servers.map((address) => ({ address, origin: "static" }));
  }

  async start(): Promise<void> {}
  async stop(): Promise<void> {}

  stats(): Record<string, number> {
    return { candidates: this.servers.length };
  }
}
