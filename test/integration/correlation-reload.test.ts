import type { Bus, EcsDocument, KvBucket } from "@vigil/common";
import {
  CORRELATION_BUCKET,
  type CorrelatedMatch,
  CorrelationEngine,
  CURRENT_KEY,
  encodeJson,
  LiveRuleEvaluator,
  RULESETS_BUCKET,
  Ruleset,
  RulesetWatcher,
  SigmaRuleEvaluator,
  type StoredRulesetDocument,
  sha256Hex,
  versionKey,
} from "@vigil/hub";
import { processRule } from "../fixtures/process-rule";
import { HubOnNats } from "../harness/hub-on-nats";
import { waitFor } from "../harness/wait-for";

// Hot reload carries correlation rules: a KV ruleset version holding a base
// rule and a correlation over it is compiled off to the side and swapped in;
// a version whose correlation refers to a rule that is not there is refused
// and the running version stays.

const BASE_ID = "4a5b6c7d-0000-4000-8000-0000000000d1";
const BASE = processRule({
  id: BASE_ID,
  name: "curl_run",
  title: "Curl run",
  level: "low",
  selection: { "Image|endswith": "/curl" },
});
const CORRELATION_ID = "4a5b6c7d-0000-4000-8000-0000000000c1";
function correlation(rule: string, gte: number): string {
  return `title: Curl burst
id: ${CORRELATION_ID}
level: high
correlation:
  type: event_count
  rules: [${rule}]
  group-by: [host.name]
  timespan: 1m
  condition: { gte: ${gte} }
`;
}

async function storeVersion(
  kv: KvBucket,
  version: number,
  rules: { id: string; yaml: string }[],
): Promise<void> {
  const document: StoredRulesetDocument = {
    version,
    change: { action: "test", actor: { id: "test", name: "test" }, time: new Date().toISOString() },
    rules: rules.map(({ id, yaml }) => ({ id, enabled: true, sha256: sha256Hex(yaml), yaml })),
  };
  await kv.create(versionKey(version), encodeJson(document));
  await kv.put(CURRENT_KEY, encodeJson({ version }));
}

let counter = 0;
function curl(): EcsDocument {
  counter++;
  return {
    "@timestamp": new Date(Date.UTC(2026, 10, 20, 10, 0, counter)).toISOString(),
    event: { id: `reload:1:${counter}`, category: ["process"], type: ["start"], action: "exec" },
    host: { name: "reload-01" },
    process: { executable: "/usr/bin/curl", pid: counter },
  };
}

describe("correlation hot reload - real NATS KV", () => {
  let stack: HubOnNats;
  let bus: Bus;

  beforeAll(async () => {
    stack = await HubOnNats.start();
    bus = await stack.connect("correlation-reload");
  });
  afterAll(async () => {
    await stack?.stop();
  });

  test("correlation hot reload - a version's correlations are installed with it; one that does not resolve is refused", async () => {
    const kv = await bus.openKv(RULESETS_BUCKET);
    const engine = new CorrelationEngine({ kv: await bus.openKv(CORRELATION_BUCKET), logger: stack.logger });
    const evaluator = new LiveRuleEvaluator(new SigmaRuleEvaluator(new Ruleset([])));
    const watcher = new RulesetWatcher({ kv, evaluator, logger: stack.logger, retryDelayMs: 50 });
    await watcher.start();
    const fire = async (events: number): Promise<string[]> => {
      const correlated: CorrelatedMatch[] = [];
      const base: string[] = [];
      for (let i = 0; i < events; i++) {
        base.push(...evaluator.evaluate(curl(), correlated).map((rule) => `base ${rule.id}`));
      }
      const alerts = await engine.process(correlated, new Date());
      return [...base, ...alerts.map((alert) => `${alert.rule.id}@${alert.rule.version}`)];
    };
    try {
      // One stored rule holding both documents, as a Sigma correlation file does.
      await storeVersion(kv, 1, [{ id: CORRELATION_ID, yaml: `${correlation("curl_run", 2)}---\n${BASE}` }]);
      await waitFor(() => watcher.version === 1, 10_000, "version 1 installed");
      expect(await fire(2)).toEqual([`${CORRELATION_ID}@1`]);
      // A correlation over a rule the version does not have: refused, version 1 keeps running.
      await storeVersion(kv, 2, [{ id: CORRELATION_ID, yaml: correlation("curl_run", 3) }]);
      await waitFor(() => watcher.rejectedVersions === 1, 10_000, "version 2 refused");
      expect(watcher.version).toBe(1);
      // Version 3 (base rule stored apart, condition raised) fires at the third event.
      await storeVersion(kv, 3, [
        { id: BASE_ID, yaml: BASE },
        { id: CORRELATION_ID, yaml: correlation("curl_run", 3) },
      ]);
      await waitFor(() => watcher.version === 3, 10_000, "version 3 installed");
      expect(await fire(2)).toEqual([]);
      expect(await fire(1)).toEqual([`${CORRELATION_ID}@3`]);
    } finally {
      watcher.stop();
    }
  });
});
