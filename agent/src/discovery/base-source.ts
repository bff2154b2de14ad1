import type { DiscoveryMode, ServerCandidate, ServerSource } from "./types";

/** The list and listener bookkeeping every source shares. */
export abstract class BaseServerSource implements ServerSource {
  abstract readonly mode: DiscoveryMode;
  protected servers: readonly ServerCandidate[] = [];
  protected changes = 0;
  private readonly listeners = new Set<(servers: readonly ServerCandidate[]) => void>();

  abstract start(): Promise<void>;
  abstract stop(): Promise<void>;
  abstract stats(): Record<string, number>;

  current(): readonly ServerCandidate[] {
    return this.servers;
  }

  onChange(listener: (servers: readonly ServerCandidate[]) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Installs `next` when it differs from the current list (order aside); true when it did. */
  protected update(next: readonly ServerCandidate[]): boolean {
    if (sameCandidates(this.servers, next)) return false;
    this.servers = next;
    this.changes++;
    for (const listener of this.listeners) listener(next);
    return true;
  }
}

function key(candidate: ServerCandidate): string {
  return `${candidate.priority ?? 0} ${candidate.address}`;
}

export function sameCandidates(a: readonly ServerCandidate[], b: readonly ServerCandidate[]): boolean {
  if (a.length !== b.length) return false;
  const left = a.map(key).sort();
  const right = b.map(key).sort();
  return left.every((value, index) => value === right[index]);
}

/** "host:port" with IPv6 hosts in brackets. */
export function hostPort(host: string, port: number): string {
  return host.includes(":") && !host.startsWith("[") ? `[${host}]:${port}` : `${host}:${port}`;
}

/** The host part of "host:port" / "[v6]:port". */
export function hostOf(address: string): string {
  const host = address.slice(0, address.lastIndexOf(":"));
  return host.startsWith("[") ? host.slice(1, -1) : host;
}
