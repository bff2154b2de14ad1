import { rendezvousOrder } from "./rendezvous";
import type { ServerCandidate } from "./types";

const servers = (count: number): ServerCandidate[] =>
  Array.from({ length: count }, (_, index) => ({ address: `10.0.0.${index + 1}:7443`, origin: "test" }));
const agents = Array.from(
  { length: 1000 },
  (_, index) => `agent-${index.toString(36)}-${(index * 7919) % 1009}`,
);

function assignment(count: number): Map<string, string> {
  const list = servers(count);
  return new Map(agents.map((agent) => [agent, rendezvousOrder(agent, list)[0].address]));
}

describe("rendezvous", () => {
  test("rendezvous - 1000 agents over 4 servers: each within a few % of 250", () => {
    const counts = new Map<string, number>();
    for (const server of assignment(4).values()) counts.set(server, (counts.get(server) ?? 0) + 1);
    expect(counts.size).toBe(4);
    for (const count of counts.values()) {
      // Binomial(1000, 1/4): σ ≈ 13.7; 4σ ≈ 55, i.e. ±5.5% of the fleet.
      expect(Math.abs(count - 250)).toBeLessThan(55);
    }
  });

  test("rendezvous - adding a 5th server moves about 1/5 of the agents, all of them to the new one", () => {
    const before = assignment(4);
    const after = assignment(5);
    const moved = agents.filter((agent) => before.get(agent) !== after.get(agent));
    expect(moved.length).toBeGreaterThan(150);
    expect(moved.length).toBeLessThan(250);
    for (const agent of moved) expect(after.get(agent)).toBe("10.0.0.5:7443");
  });

  test("rendezvous - removing a server moves only its agents, spread over the rest", () => {
    const before = assignment(4);
    const remaining = servers(4).filter((server) => server.address !== "10.0.0.2:7443");
    const counts = new Map<string, number>();
    for (const agent of agents) {
      const now = rendezvousOrder(agent, remaining)[0].address;
      if (before.get(agent) !== "10.0.0.2:7443") expect(now).toBe(before.get(agent));
      else counts.set(now, (counts.get(now) ?? 0) + 1);
    }
    expect(counts.size).toBe(3);
    // The failed server's second choices are spread too: none takes them all.
    for (const count of counts.values()) expect(count).toBeLessThan(150);
  });

  test("rendezvous - the order is the agent's own, stable, and a lower priority group ranks first", () => {
    const list = servers(3);
    expect(rendezvousOrder("a1", list)).toEqual(rendezvousOrder("a1", [...list].reverse()));
    const withBackup: ServerCandidate[] = [
      ...list,
      { address: "10.9.9.9:7443", origin: "srv", priority: 20 },
    ].map((server) => (server.priority ? server : { ...server, priority: 10 }));
    for (const agent of agents.slice(0, 50))
      expect(rendezvousOrder(agent, withBackup).at(-1)?.priority).toBe(20);
    expect(rendezvousOrder("a1", [...list, list[0]])).toHaveLength(3);
  });
});
