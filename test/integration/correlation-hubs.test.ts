import type { Alert, AlertSink, Bus } from "@vigil/common";
import { CORRELATION_BUCKET, CorrelationEngine, type HubService } from "@vigil/hub";
import { registerCorrelationMetrics } from "../../hub/src/correlation/correlation-metrics";
import { busExecEvent } from "../fixtures/bus-exec-event";
import { DISCOVERY_BURST_ID as BURST, discoveryBurstRules } from "../fixtures/correlation-rules";
import { compileTestRules } from "../harness/compile-test-rules";
import { HubOnNats, publishBatch } from "../harness/hub-on-nats";
import { startTcpProxy } from "../harness/tcp-proxy";
import { waitFor } from "../harness/wait-for";

// Two hub services on one real NATS share the durable consumer and the
// correlation bucket. One host's discovery commands are spread over both; the
// burst correlation must fire exactly once per 5 events, also when one hub
// dies after writing a window that fired and before storing the alert.

const RULES = discoveryBurstRules(5, "10m");
const CONSUMER = { maxInFlight: 1, ackWaitMs: 1500, maxDeliver: 50, retryDelayMs: 50 };

/** Alerts stored by id, as Elasticsearch keeps them (_id): shared by the hubs. */
class SharedStore {
  readonly byId = new Map<string, Alert>();
  sink(name: string, hang?: (alerts: Alert[]) => Promise<void> | undefined): AlertSink {
    return {
      name,
      write: async (alerts) => {
        const hung = hang?.(alerts);
        if (hung) await hung;
        for (const alert of alerts) this.byId.set(alert.id, alert);
      },
      close: async () => {},
    };
  }
  bursts(): Alert[] {
    return [...this.byId.values()].filter((alert) => alert.rule.id === BURST);
  }
}

let sequence = 0;
const started = Date.now();

async function publishDiscovery(bus: Bus, host: string, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    sequence++;
    const event = busExecEvent({
      id: `${host}:1:${sequence}`,
      timestampUs: (started + sequence) * 1000,
      pid: 100 + sequence,
      executable: "/usr/bin/id",
      commandLine: "id",
    });
    await publishBatch(bus, { agentId: host, sequence, events: [event] });
  }
}

describe("correlation across hubs - real NATS", () => {
  let stack: HubOnNats;

  beforeEach(async () => {
    stack = await HubOnNats.start();
  });
  afterEach(async () => {
    await stack.stop();
  });

  async function startHubService(
    bus: Bus,
    sink: AlertSink,
  ): Promise<{ hub: HubService; engine: CorrelationEngine }> {
    const engine = new CorrelationEngine({ kv: await bus.openKv(CORRELATION_BUCKET), logger: stack.logger });
    const hub = await stack.startHubService({
      bus,
      rules: compileTestRules(RULES, "hubs-test.yml"),
      sinks: [sink],
      consumer: CONSUMER,
      correlation: engine,
    });
    return { hub, engine };
  }

  test("correlation across hubs - two hubs taking one host's events in turn fire once per window", async () => {
    const store = new SharedStore();
    const a = await startHubService(await stack.connect("hub-a"), store.sink("a"));
    const b = await startHubService(await stack.connect("hub-b"), store.sink("b"));
    await publishDiscovery(await stack.connect("publisher"), "web-01", 30);
    await waitFor(
      () => a.engine.counters.updates + b.engine.counters.updates === 30 && store.bursts().length === 6,
      20_000,
      "30 window updates and 6 burst alerts",
    );
    // Both hubs took part, and neither the base rule (a building block only) nor a double count added alerts.
    expect(a.engine.counters.updates).toBeGreaterThan(0);
    expect(b.engine.counters.updates).toBeGreaterThan(0);
    expect(store.byId.size).toBe(6);
    const counts = store
      .bursts()
      .map((alert) => (alert.document.vigil as { correlation: { count: number } }).correlation.count);
    expect(counts).toEqual([5, 5, 5, 5, 5, 5]);
    const ids = store
      .bursts()
      .flatMap(
        (alert) => (alert.document.vigil as { correlation: { event_ids: string[] } }).correlation.event_ids,
      );
    expect(new Set(ids).size).toBe(30);
    // Operators see the same on /metrics.
    registerCorrelationMetrics(a.hub.metricsRegistry, a.engine);
    expect(await a.hub.metricsRegistry.metrics()).toContain(
      `vigil_hub_correlation_updates_total{program="vigil-hub"} ${a.engine.counters.updates}`,
    );
  });

  test("correlation across hubs - a hub that dies between the window write and the alert write loses no alert and counts nothing twice", async () => {
    const store = new SharedStore();
    const proxy = await startTcpProxy(stack.nats.port);
    stack.closeWith(() => proxy.close());
    let hungAlertId: string | undefined;
    let release: (() => void) | undefined;
    // Hub A goes through a proxy; its first burst alert write never completes, and then the proxy goes dark.
    const victim = await startHubService(
      await stack.connect("hub-victim", proxy.port),
      store.sink("victim", (alerts) => {
        const burst = alerts.find((alert) => alert.rule.id === BURST);
        if (burst === undefined || hungAlertId !== undefined) return undefined;
        hungAlertId = burst.id;
        proxy.blackhole();
        return new Promise<void>((resolve, reject) => {
          release = () => reject(new Error("hub gone"));
          void resolve;
        });
      }),
    );
    const publisher = await stack.connect("publisher");
    // Alone, the victim takes the first five events; the fifth fires the window, then the victim dies.
    await publishDiscovery(publisher, "db-01", 5);
    await waitFor(() => hungAlertId !== undefined, 20_000, "the victim's burst alert write");
    const survivor = await startHubService(await stack.connect("hub-survivor"), store.sink("survivor"));
    await publishDiscovery(publisher, "db-01", 15);
    await waitFor(() => store.bursts().length === 4, 30_000, "4 burst alerts");
    // The alert the dead hub never stored was stored by the survivor, from the redelivered batch.
    expect(store.byId.has(hungAlertId as string)).toBe(true);
    expect(survivor.engine.counters.replays).toBe(1);
    expect(victim.engine.counters.fires).toBe(1);
    expect(store.byId.size).toBe(4);
    const ids = store
      .bursts()
      .flatMap(
        (alert) => (alert.document.vigil as { correlation: { event_ids: string[] } }).correlation.event_ids,
      );
    expect(new Set(ids).size).toBe(20);
    release?.();
    proxy.dropConnections();
  });
});
