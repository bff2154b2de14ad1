import { silentLogger } from "@vigil/common";
import { BaseServerSource } from "./base-source";
import { rendezvousOrder } from "./rendezvous";
import { ServerSelector } from "./server-selector";
import type { ServerCandidate } from "./types";

class FakeSource extends BaseServerSource {
  readonly mode = "consul" as const;
  async start(): Promise<void> {}
  async stop(): Promise<void> {}
  stats(): Record<string, number> {
    return {};
  }
  set(addresses: string[]): void {
    this.update(addresses.map((address) => ({ address, origin: "fake" })));
  }
}

const A = "127.0.0.1:7001";
const B = "127.0.0.1:7002";
const C = "127.0.0.1:7003";

function selector(
  source: FakeSource,
  options: Partial<ConstructorParameters<typeof ServerSelector>[0]> = {},
) {
  const leaves: string[] = [];
  const chosen = new ServerSelector({
    agentId: "agent-1",
    source,
    fallback: [],
    tls: false,
    failedCooldownMs: 10_000,
    rebalanceMinMs: 100,
    rebalanceMaxMs: 150,
    logger: silentLogger(),
    ...options,
  });
  chosen.onLeave((reason) => leaves.push(reason));
  return { chosen, leaves };
}

const order = (addresses: string[]) =>
  rendezvousOrder(
    "agent-1",
    addresses.map((address): ServerCandidate => ({ address, origin: "x" })),
  ).map((candidate) => candidate.address);

describe("server-selector", () => {
  test("server-selector - dials the rendezvous first choice, the next one after a failure", () => {
    const source = new FakeSource();
    source.set([A, B, C]);
    const { chosen } = selector(source);
    const [first, second, third] = order([A, B, C]);
    expect(chosen.next()).toBe(first);
    expect(chosen.next(first)).toBe(second);
    expect(chosen.next(second)).toBe(third);
    // All failed lately: the one that failed longest ago.
    expect(chosen.next(third)).toBe(first);
    chosen.close();
  });

  test("server-selector - its server leaving the healthy set means leave now", () => {
    const source = new FakeSource();
    source.set([A, B, C]);
    const { chosen, leaves } = selector(source);
    const first = chosen.next() as string;
    chosen.connectedTo(first);
    source.set([A, B, C].filter((address) => address !== first));
    expect(leaves).toEqual([`${first} left the healthy set`]);
    expect(chosen.next()).toBe(order([A, B, C])[1]);
    expect(chosen.counters.failovers).toBe(1);
    chosen.close();
  });

  test("server-selector - an empty healthy set does not make it leave; the last known servers stay dialable", () => {
    const source = new FakeSource();
    source.set([A, B]);
    const { chosen, leaves } = selector(source);
    const first = chosen.next() as string;
    chosen.connectedTo(first);
    source.set([]);
    expect(leaves).toEqual([]);
    expect(chosen.next()).toBe(first);
    chosen.close();
  });

  test("server-selector - a newly preferred server is joined only after the randomized rebalance delay", async () => {
    const source = new FakeSource();
    // Find a server this agent prefers over A and B, then start without it.
    const extra = ["127.0.0.1:7010", "127.0.0.1:7011", "127.0.0.1:7012", "127.0.0.1:7013"].find(
      (address) => order([A, B, address])[0] === address,
    ) as string;
    source.set([A, B]);
    const { chosen, leaves } = selector(source, { rebalanceMinMs: 200, rebalanceMaxMs: 300 });
    const first = chosen.next() as string;
    chosen.connectedTo(first);
    source.set([A, B, extra]);
    expect(leaves).toEqual([]); // not at once
    expect(chosen.counters.rebalancesScheduled).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(leaves).toEqual([]);
    await new Promise((resolve) => setTimeout(resolve, 250));
    expect(leaves).toEqual([`rebalancing to ${extra}`]);
    chosen.connectedTo(undefined);
    expect(chosen.next()).toBe(extra);
    chosen.close();
  });

  test("server-selector - a pending rebalance is dropped when the new server goes away again", async () => {
    const source = new FakeSource();
    const extra = ["127.0.0.1:7010", "127.0.0.1:7011", "127.0.0.1:7012", "127.0.0.1:7013"].find(
      (address) => order([A, B, address])[0] === address,
    ) as string;
    source.set([A, B]);
    const { chosen, leaves } = selector(source);
    chosen.connectedTo(chosen.next());
    source.set([A, B, extra]);
    source.set([A, B]);
    await new Promise((resolve) => setTimeout(resolve, 250));
    expect(leaves).toEqual([]);
    chosen.close();
  });

  test("server-selector - without TLS only loopback servers are dialled; the fallback list while none is known", () => {
    const source = new FakeSource();
    const { chosen } = selector(source, { fallback: ["127.0.0.1:7443"] });
    expect(chosen.next()).toBe("127.0.0.1:7443");
    source.set(["10.1.2.3:7443", B]);
    expect(chosen.next()).toBe(B);
    expect(chosen.counters.plaintextRefused).toBe(1);
    const { chosen: withTls } = selector(source, { tls: true });
    expect(withTls.ranked()).toHaveLength(2);
    chosen.close();
    withTls.close();
  });

  test("server-selector - changed() resolves on the next candidate change", async () => {
    const source = new FakeSource();
    const { chosen } = selector(source);
    const started = Date.now();
    const waiting = chosen.changed(5000);
    setTimeout(() => source.set([A]), 20);
    await waiting;
    expect(Date.now() - started).toBeLessThan(1000);
    chosen.close();
  });
});
