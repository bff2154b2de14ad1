import { type Bus, connectNatsBus, createLogger, type KvBucket } from "@vigil/common";
import { commandLineRule } from "../../../test/fixtures/process-rule";
import { type NatsServerHandle, startNatsServer } from "../../../test/harness/nats-server";
import { waitFor } from "../../../test/harness/wait-for";
import { Ruleset } from "../sigma";
import { LiveRuleEvaluator } from "./live-rule-evaluator";
import { SigmaRuleEvaluator } from "./rule-evaluator";
import {
  bodyKey,
  CURRENT_KEY,
  encodeJson,
  RULESETS_BUCKET,
  type StoredRulesetDocument,
  sha256Hex,
  versionKey,
} from "./ruleset-kv";
import { RulesetWatcher } from "./ruleset-watcher";

function rule(id: string, needle: string): string {
  return commandLineRule(needle, { id });
}

const RULE_A = "0b8e3c55-2f0e-4e8a-9d1e-000000000001";
const RULE_B = "0b8e3c55-2f0e-4e8a-9d1e-000000000002";

function exec(commandLine: string) {
  return {
    event: { category: ["process"], type: ["start"], action: "exec" },
    process: { command_line: commandLine },
  };
}

function firing(evaluator: LiveRuleEvaluator, commandLine: string): string[] {
  return evaluator.evaluate(exec(commandLine)).map((alerting) => `${alerting.id}@${alerting.version}`);
}

async function storeVersion(
  kv: KvBucket,
  version: number,
  rules: { id: string; yaml: string; enabled?: boolean }[],
  bodiesApart = false,
): Promise<void> {
  const document: StoredRulesetDocument = {
    version,
    parent: version > 1 ? version - 1 : undefined,
    change: { action: "test", actor: { id: "test", name: "test" }, time: new Date().toISOString() },
    rules: [],
  };
  for (const { id, yaml, enabled } of rules) {
    const sha256 = sha256Hex(yaml);
    if (bodiesApart) await kv.put(bodyKey(sha256), new TextEncoder().encode(yaml));
    document.rules.push({ id, enabled: enabled ?? true, sha256, ...(bodiesApart ? {} : { yaml }) });
  }
  await kv.create(versionKey(version), encodeJson(document));
  await kv.put(CURRENT_KEY, encodeJson({ version }));
}

describe("ruleset watcher - real NATS KV", () => {
  let server: NatsServerHandle;
  let bus: Bus;
  let kv: KvBucket;
  const logLines: string[] = [];
  const logger = createLogger({
    name: "ruleset-watcher-test",
    level: "info",
    destination: { write: (line: string) => logLines.push(line) },
  });

  beforeAll(async () => {
    server = await startNatsServer();
    bus = await connectNatsBus({ servers: [server.url], name: "ruleset-watcher-test", logger });
    kv = await bus.openKv(RULESETS_BUCKET);
  });

  afterAll(async () => {
    await bus?.close();
    await server?.stop();
  });

  it("ruleset watcher - follows new versions live, keeps the previous one when a version does not compile", async () => {
    const evaluator = new LiveRuleEvaluator(new SigmaRuleEvaluator(new Ruleset([])));
    const watcher = new RulesetWatcher({ kv, evaluator, logger, retryDelayMs: 50 });
    expect(await watcher.loadCurrent()).toBe(false);
    await watcher.start();
    try {
      await storeVersion(kv, 1, [{ id: RULE_A, yaml: rule(RULE_A, "alpha") }]);
      await waitFor(() => watcher.version === 1, 10_000, "version 1 installed");
      expect(firing(evaluator, "run alpha")).toEqual([`${RULE_A}@1`]);
      expect(firing(evaluator, "run beta")).toEqual([]);

      // Rule bodies stored apart (large rulesets) read the same; a disabled rule does not fire.
      await storeVersion(
        kv,
        2,
        [
          { id: RULE_A, yaml: rule(RULE_A, "alpha"), enabled: false },
          { id: RULE_B, yaml: rule(RULE_B, "beta") },
        ],
        true,
      );
      await waitFor(() => watcher.version === 2, 10_000, "version 2 installed");
      expect(firing(evaluator, "run alpha")).toEqual([]);
      expect(firing(evaluator, "run beta")).toEqual([`${RULE_B}@2`]);

      await storeVersion(kv, 3, [{ id: RULE_A, yaml: rule(RULE_A, "alpha").replace("|contains", "|nope") }]);
      await waitFor(
        () => logLines.some((line) => line.includes("does not compile; keeping the previous one")),
        10_000,
        "version 3 rejected",
      );
      expect(watcher.version).toBe(2);
      expect(watcher.rejectedVersions).toBe(1);
      expect(firing(evaluator, "run beta")).toEqual([`${RULE_B}@2`]);
      expect(logLines.join("")).toContain("unknown modifier 'nope'");

      // The next good version is installed after a rejected one.
      await storeVersion(kv, 4, [{ id: RULE_A, yaml: rule(RULE_A, "gamma") }]);
      await waitFor(() => watcher.version === 4, 10_000, "version 4 installed");
      expect(firing(evaluator, "gamma")).toEqual([`${RULE_A}@4`]);
    } finally {
      watcher.stop();
    }

    // A hub starting now installs the current version before it consumes anything.
    const late = new LiveRuleEvaluator(new SigmaRuleEvaluator(new Ruleset([])));
    const lateWatcher = new RulesetWatcher({ kv, evaluator: late, logger });
    expect(await lateWatcher.loadCurrent()).toBe(true);
    expect(firing(late, "gamma")).toEqual([`${RULE_A}@4`]);
  });

  it("ruleset watcher - a pointer ahead of its version document is retried until the document is there", async () => {
    const own = await bus.openKv({ ...RULESETS_BUCKET, name: "vigil-rulesets-retry" });
    const evaluator = new LiveRuleEvaluator(new SigmaRuleEvaluator(new Ruleset([])));
    const watcher = new RulesetWatcher({ kv: own, evaluator, logger, retryDelayMs: 50 });
    await watcher.start();
    try {
      await own.put(CURRENT_KEY, encodeJson({ version: 1 }));
      await waitFor(
        () => logLines.some((line) => line.includes("names a version that is not stored")),
        10_000,
        "missing version logged",
      );
      expect(watcher.version).toBe(0);
      const yaml = rule(RULE_A, "delta");
      await own.create(
        versionKey(1),
        encodeJson({
          version: 1,
          change: { action: "test", actor: { id: "t", name: "t" }, time: new Date().toISOString() },
          rules: [{ id: RULE_A, enabled: true, sha256: sha256Hex(yaml), yaml }],
        }),
      );
      await waitFor(() => watcher.version === 1, 10_000, "version 1 installed on retry");
      expect(firing(evaluator, "delta")).toEqual([`${RULE_A}@1`]);
    } finally {
      watcher.stop();
    }
  });
});
