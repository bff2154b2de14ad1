import type { Bus, EcsDocument, KvBucket, KvBucketSpec } from "@vigil/common";
import {
  CORRELATION_BUCKET,
  type CorrelatedMatch,
  CorrelationEngine,
  type SigmaRuleEvaluator,
} from "@vigil/hub";
import { processRule } from "../fixtures/process-rule";
import { compileTestRules } from "../harness/compile-test-rules";
import { HubOnNats } from "../harness/hub-on-nats";

// Correlation windows in a real NATS KV bucket: each type fires at the right
// event and not before, groups are separate, windows end, two engines on two
// connections racing on one window fire it once, and a window write that
// lands but whose batch fails is neither counted twice nor loses its alert.

const T0 = Date.parse("2026-11-20T10:00:00Z");

const BASE_RULES = [
  processRule({
    id: "1d2c3b4a-0000-4000-8000-0000000000d1",
    name: "discovery_command",
    title: "Discovery command",
    level: "low",
    selection: { "Image|endswith": "[/whoami, /id, /uname, /hostname]" },
  }),
  processRule({
    id: "1d2c3b4a-0000-4000-8000-0000000000d2",
    name: "curl_download",
    title: "Download with curl",
    level: "low",
    selection: { "Image|endswith": "/curl" },
  }),
  processRule({
    id: "1d2c3b4a-0000-4000-8000-0000000000d3",
    name: "tmp_exec",
    title: "Execution from /tmp",
    level: "medium",
    selection: { "Image|startswith": "/tmp/" },
  }),
];

const RULES = `${BASE_RULES.join("---\n")}---
title: Discovery burst
id: 1d2c3b4a-0000-4000-8000-0000000000c1
level: medium
correlation:
  type: event_count
  rules: [discovery_command]
  group-by: [host.name, User]
  timespan: 1m
  condition: { gte: 4 }
---
title: Many discovery tools
id: 1d2c3b4a-0000-4000-8000-0000000000c2
level: medium
correlation:
  type: value_count
  rules: [discovery_command]
  group-by: [host.name]
  timespan: 5m
  condition: { gte: 3, field: Image }
---
title: Download then run from /tmp
id: 1d2c3b4a-0000-4000-8000-0000000000c3
level: high
correlation:
  type: temporal_ordered
  rules: [curl_download, tmp_exec]
  group-by: [host.name]
  timespan: 2m
  generate: true
`;

const BURST = "1d2c3b4a-0000-4000-8000-0000000000c1";
const TOOLS = "1d2c3b4a-0000-4000-8000-0000000000c2";
const DROPPER = "1d2c3b4a-0000-4000-8000-0000000000c3";

let counter = 0;

function exec(host: string, image: string, secondsAfterT0: number, user = "www-data"): EcsDocument {
  counter++;
  return {
    "@timestamp": new Date(T0 + secondsAfterT0 * 1000).toISOString(),
    event: {
      id: `${host}:1:${counter}`,
      kind: "event",
      category: ["process"],
      type: ["start"],
      action: "exec",
    },
    host: { name: host },
    user: { name: user },
    process: { executable: image, pid: 1000 + counter, command_line: image },
  };
}

function evaluator(): SigmaRuleEvaluator {
  return compileTestRules(RULES, "correlation-test.yml", "7");
}

/** What the hub does per batch: evaluate, then correlate; returns "<rule>@<event>" per alert, base and correlation. */
async function feed(engine: CorrelationEngine, rules: SigmaRuleEvaluator, documents: EcsDocument[]) {
  const correlated: CorrelatedMatch[] = [];
  const base = documents.flatMap((document) =>
    rules.evaluate(document, correlated).map((rule) => `${rule.id}@${(document.event as EcsDocument).id}`),
  );
  const alerts = await engine.process(correlated, new Date());
  return { base, alerts };
}

/** A KV bucket whose next update is written and then reported failed, like a hub that died right after it. */
class WriteThenFailKv implements KvBucket {
  failNext = false;
  constructor(private readonly inner: KvBucket) {}
  get name() {
    return this.inner.name;
  }
  get(key: string) {
    return this.inner.get(key);
  }
  put(key: string, value: Uint8Array) {
    return this.inner.put(key, value);
  }
  create(key: string, value: Uint8Array) {
    return this.afterWrite(this.inner.create(key, value));
  }
  update(key: string, value: Uint8Array, expectedRevision: number) {
    return this.afterWrite(this.inner.update(key, value, expectedRevision));
  }
  delete(key: string, expectedRevision?: number) {
    return this.inner.delete(key, expectedRevision);
  }
  keys(pattern?: string) {
    return this.inner.keys(pattern);
  }
  history(key: string) {
    return this.inner.history(key);
  }
  watch(...args: Parameters<KvBucket["watch"]>) {
    return this.inner.watch(...args);
  }
  private async afterWrite(write: Promise<number>): Promise<number> {
    const revision = await write;
    if (this.failNext) {
      this.failNext = false;
      throw new Error("connection lost after the write");
    }
    return revision;
  }
}

describe("correlation windows - real NATS KV", () => {
  let stack: HubOnNats;
  let busA: Bus;
  let busB: Bus;
  let bucketIndex = 0;

  /** A fresh bucket per test so windows of one test never meet another's. */
  async function buckets(): Promise<[KvBucket, KvBucket]> {
    const spec: KvBucketSpec = { ...CORRELATION_BUCKET, name: `vigil-correlation-test-${++bucketIndex}` };
    return [await busA.openKv(spec), await busB.openKv(spec)];
  }

  beforeAll(async () => {
    stack = await HubOnNats.start();
    busA = await stack.connect("correlation-a");
    busB = await stack.connect("correlation-b");
  });
  afterAll(async () => {
    await stack?.stop();
  });

  test("correlation windows - event_count fires at the 4th event of a group, not before; groups are separate; a window ends", async () => {
    const [kv] = await buckets();
    const engine = new CorrelationEngine({ kv, logger: stack.logger });
    const rules = evaluator();
    const fired: string[] = [];
    const events = [
      exec("web-01", "/usr/bin/id", 0),
      exec("web-01", "/usr/bin/id", 1),
      exec("web-02", "/usr/bin/id", 2), // another host: its own window
      exec("web-01", "/usr/bin/id", 3, "root"), // another user: its own window
      exec("web-01", "/usr/bin/id", 4),
      exec("web-01", "/usr/bin/id", 5), // 4th of web-01/www-data
      exec("web-01", "/usr/bin/id", 6),
    ];
    for (const [index, document] of events.entries()) {
      const { base, alerts } = await feed(engine, rules, [document]);
      // The base rule is only a building block of the correlations here (no generate): no alert of its own.
      expect(base).toEqual([]);
      for (const alert of alerts) fired.push(`${alert.rule.id}@${index}`);
    }
    expect(fired).toEqual([`${BURST}@5`]);
    // Events more than the timespan apart (event time) never make a window.
    const spaced = [0, 70, 140, 210, 280].map((seconds) => exec("web-03", "/usr/bin/id", seconds));
    const late = await feed(engine, rules, spaced);
    expect(late.alerts.filter((alert) => alert.rule.id === BURST)).toEqual([]);
    expect(engine.counters.fires).toBe(1);
  });

  test("correlation windows - the alert names the correlation, the group, the count and the contributing events", async () => {
    const [kv] = await buckets();
    const engine = new CorrelationEngine({ kv, logger: stack.logger });
    const events = ["/usr/bin/id", "/usr/bin/whoami", "/usr/bin/id", "/usr/bin/uname"].map((image, i) =>
      exec("db-01", image, i),
    );
    const { alerts } = await feed(engine, evaluator(), events);
    // The 4th event completes both: 4 discovery commands, and 3 distinct tools.
    expect(alerts.map((alert) => alert.rule.id).sort()).toEqual([BURST, TOOLS].sort());
    const burst = alerts.find((alert) => alert.rule.id === BURST);
    expect(burst?.document).toMatchObject({
      event: { kind: "alert", severity: 47 },
      rule: { id: BURST, name: "Discovery burst", version: "7" },
      host: { name: "db-01" },
      message: "Discovery burst: 4 events within 1m for host.name=db-01, User=www-data",
      vigil: {
        correlation: {
          type: "event_count",
          count: 4,
          group: { "host.name": "db-01", User: "www-data" },
          event_ids: events.map((event) => (event.event as EcsDocument).id),
          first: "2026-11-20T10:00:00.000Z",
          last: "2026-11-20T10:00:03.000Z",
        },
      },
    });
    const tools = alerts.find((alert) => alert.rule.id === TOOLS);
    expect(tools?.document).toMatchObject({
      vigil: {
        correlation: {
          type: "value_count",
          count: 4,
          counted: 3,
          values: ["/usr/bin/id", "/usr/bin/whoami", "/usr/bin/uname"],
        },
      },
    });
  });

  test("correlation windows - temporal_ordered fires on the second step only after the first; generate keeps base alerts", async () => {
    const [kv] = await buckets();
    const engine = new CorrelationEngine({ kv, logger: stack.logger });
    const rules = evaluator();
    const runFirst = await feed(engine, rules, [
      exec("app-01", "/tmp/x", 0),
      exec("app-01", "/usr/bin/curl", 5),
    ]);
    expect(runFirst.alerts).toEqual([]);
    // generate: true — the referenced rules still alert on their own.
    expect(runFirst.base).toHaveLength(2);
    const second = await feed(engine, rules, [exec("app-01", "/tmp/x", 30)]);
    expect(second.alerts.map((alert) => alert.rule.id)).toEqual([DROPPER]);
    expect(second.alerts[0].document).toMatchObject({
      vigil: { correlation: { type: "temporal_ordered", count: 2 } },
    });
  });

  test("correlation windows - two engines on two connections, one group's events interleaved between them, fire exactly once per window", async () => {
    const [kvA, kvB] = await buckets();
    const engineA = new CorrelationEngine({ kv: kvA, logger: stack.logger });
    const engineB = new CorrelationEngine({ kv: kvB, logger: stack.logger });
    const rules = evaluator();
    const events = Array.from({ length: 40 }, (_, i) => exec("race-01", "/usr/bin/id", i / 10));
    const fired: string[] = [];
    // Pairs race: A takes the even events and B the odd ones, each pair at the same time.
    for (let i = 0; i < events.length; i += 2) {
      const [a, b] = await Promise.all([
        feed(engineA, rules, [events[i]]),
        feed(engineB, rules, [events[i + 1]]),
      ]);
      for (const alert of [...a.alerts, ...b.alerts]) if (alert.rule.id === BURST) fired.push(alert.id);
    }
    // 40 events, a window of 4: exactly 10 fires, each its own alert.
    expect(fired).toHaveLength(10);
    expect(new Set(fired).size).toBe(10);
    expect(engineA.counters.updates + engineB.counters.updates).toBeGreaterThanOrEqual(40);
    expect(engineA.counters.fires + engineB.counters.fires).toBeGreaterThanOrEqual(10);
  });

  test("correlation windows - a write that lands but fails its batch: the batch again counts nothing twice and the same alert comes", async () => {
    const [kv] = await buckets();
    const failing = new WriteThenFailKv(kv);
    const engine = new CorrelationEngine({ kv: failing, logger: stack.logger });
    const rules = evaluator();
    const batch = [0, 1, 2, 3].map((i) => exec("crash-01", "/usr/bin/id", i));
    await feed(engine, rules, batch.slice(0, 2));
    failing.failNext = true;
    // The window write holding the 3rd and 4th events (and the fire) lands, then the batch fails.
    await expect(feed(engine, rules, batch.slice(2))).rejects.toThrow("connection lost after the write");
    // Redelivery of the whole batch: the events are known, the fire comes again with the same alert id.
    const again = await feed(engine, rules, batch);
    const burst = again.alerts.filter((alert) => alert.rule.id === BURST);
    expect(burst).toHaveLength(1);
    expect(burst[0].document).toMatchObject({ vigil: { correlation: { count: 4 } } });
    const thirdTime = await feed(engine, rules, batch);
    expect(thirdTime.alerts.map((alert) => alert.id)).toEqual(again.alerts.map((alert) => alert.id));
    // Counting went on from the window's true state: three new events are not enough for the next fire.
    const next = await feed(
      engine,
      rules,
      [4, 5, 6].map((i) => exec("crash-01", "/usr/bin/id", i)),
    );
    expect(next.alerts.filter((alert) => alert.rule.id === BURST)).toEqual([]);
    const fourth = await feed(engine, rules, [exec("crash-01", "/usr/bin/id", 7)]);
    expect(fourth.alerts.filter((alert) => alert.rule.id === BURST)).toHaveLength(1);
    expect(engine.counters.replays).toBeGreaterThanOrEqual(2);
  });
});
