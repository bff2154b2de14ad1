/** One server an agent may connect to. */
export interface ServerCandidate {
  /** "host:port" (IPv6 in brackets): what gRPC dials, and the rendezvous key. */
  address: string;
  /** Where it came from, for logs: the Consul service id and node, the SRV target, "static". */
  origin: string;
  /** Lower is preferred (SRV priority); every candidate of a lower group ranks first. Default 0. */
  priority?: number;
}

export type DiscoveryMode = "static" | "dns" | "consul";

/** The current candidate servers and their changes, from a list, DNS or Consul. */
export interface ServerSource {
  readonly mode: DiscoveryMode;
  /** Starts watching. Resolves once a first list is known or the source gave up waiting; never throws. */
  start(): Promise<void>;
  /** The candidates as last known (empty: none known, or none healthy). */
  current(): readonly ServerCandidate[];
  /** Runs after every change of the list; returns the unsubscribe function. */
  onChange(listener: (servers: readonly ServerCandidate[]) => void): () => void;
  /** Counters for heartbeats and /metrics (lookups, errors, changes). */
  stats(): Record<string, number>;
  stop(): Promise<void>;
}

/**
 * What the ServerLink needs from discovery: whom to dial, and when to leave
 * the server it is on. Implemented by ServerSelector.
 */
export interface LinkServers {
  /** The server to dial now. `failed`: the one whose stream just failed. Undefined: none known yet. */
  next(failed?: string): string | undefined;
  /** The link tells which server it is on (undefined once disconnected). */
  connectedTo(server: string | undefined): void;
  /** `listener` is called when the link should leave its server (gone from the healthy set, or rebalancing). */
  onLeave(listener: (reason: string) => void): void;
  /** Resolves at the next change of candidates, or after timeoutMs. */
  changed(timeoutMs: number): Promise<void>;
}
