// Runs a rules directory's tests (<dir>/tests/*.yml) against the rules of
// that directory, compiled as the hub compiles them: `vigil rules test` and
// the default ruleset's jest suite share this, so "the rule passes its tests"
// means one thing.
//
// A base rule's match event must fire exactly that rule plus its also_fires
// across the whole ruleset (an unexpected second alert is a finding too); a
// no_match event must not fire it. A correlation's fires sequence, fed event
// by event through the real correlation engine (windows in an in-process KV
// bucket, fresh per sequence), must fire it once, at the last event; a
// no_fire sequence must not fire it at all.

import { readdirSync, readFileSync } from "node:fs";
import { basename, join } from "node:path";
import { createMemoryBus, type KvBucketSpec, silentLogger } from "@vigil/common";
import type { CompiledRuleSources } from "../correlation/compile-rule-sources";
import { CORRELATION_BUCKET } from "../correlation/correlation-bucket";
import { CorrelationEngine } from "../correlation/correlation-engine";
import { loadRuleSources } from "../correlation/load-rule-sources";
import type { CorrelatedMatch, CorrelationRule } from "../correlation/types";
import { SigmaRuleEvaluator } from "../rules/rule-evaluator";
import { type CompiledRule, Ruleset } from "../sigma";
import { parseRuleTestFile, type RuleTestCase, type RuleTestFile } from "./rule-test-file";

export interface CaseResult {
  name: string;
  expect: RuleTestCase["expect"];
  ok: boolean;
  /** Why it failed. */
  detail?: string;
}

export interface RuleTestResult {
  /** The test file's name (tests/<name>). */
  file: string;
  ruleId: string;
  /** Title of the rule under test; undefined when the id names no rule. */
  title: string | undefined;
  kind: "rule" | "correlation" | undefined;
  /** Problems with the file itself (bad YAML, unknown rule, wrong case kinds). */
  problems: string[];
  cases: CaseResult[];
  ok: boolean;
}

export interface RuleTestReport {
  /** Rules that did not compile: file, id and reason. */
  loadErrors: string[];
  /** The directory has no tests/ directory. */
  noTestsDirectory: boolean;
  results: RuleTestResult[];
  /** Rules (base and correlation) no test file names. */
  untested: { id: string; title: string; source: string }[];
  /** Counts of passed and failed cases. */
  passed: number;
  failed: number;
  ok: boolean;
}

let bucketSerial = 0;

export class RuleTestRunner {
  readonly ruleset: Ruleset;
  readonly files: ReadonlyArray<{ file: string; test: RuleTestFile }>;
  private readonly rulesById: Map<string, CompiledRule>;
  private readonly correlationsById: Map<string, CorrelationRule>;
  private readonly evaluator: SigmaRuleEvaluator;

  constructor(
    readonly compiled: CompiledRuleSources,
    files: ReadonlyArray<{ file: string; test: RuleTestFile }>,
    readonly noTestsDirectory = false,
  ) {
    this.ruleset = new Ruleset(compiled.rules);
    this.files = files;
    this.rulesById = new Map(compiled.rules.map((rule) => [rule.id, rule]));
    this.correlationsById = new Map(compiled.correlations.map((rule) => [rule.id, rule]));
    this.evaluator = new SigmaRuleEvaluator(this.ruleset, "test", compiled.correlations);
  }

  /** Rules from `dir` (base and correlation, as the hub loads them) and the test files in `dir`/tests. */
  static load(dir: string): RuleTestRunner {
    const compiled = loadRuleSources(dir);
    const testsDir = join(dir, "tests");
    let names: string[];
    try {
      names = readdirSync(testsDir)
        .filter((name) => /\.ya?ml$/i.test(name))
        .sort();
    } catch {
      return new RuleTestRunner(compiled, [], true);
    }
    const files = names.map((file) => {
      try {
        return { file, test: parseRuleTestFile(readFileSync(join(testsDir, file), "utf8")) };
      } catch (error) {
        const test: RuleTestFile = {
          rule: "",
          cases: [],
          problems: [`cannot read: ${(error as Error).message}`],
        };
        return { file, test };
      }
    });
    return new RuleTestRunner(compiled, files);
  }

  /** The rule (base or correlation) a test file is about, and what is wrong with the file. */
  describe(test: RuleTestFile): Pick<RuleTestResult, "title" | "kind" | "problems"> {
    const base = this.rulesById.get(test.rule);
    const correlation = this.correlationsById.get(test.rule);
    const problems = [...test.problems];
    const kind = base ? "rule" : correlation ? "correlation" : undefined;
    if (test.rule !== "" && kind === undefined)
      problems.push(`no rule with id ${test.rule} in the directory`);
    for (const testCase of test.cases) {
      const sequence = testCase.expect === "fires" || testCase.expect === "no_fire";
      if (kind === "rule" && sequence)
        problems.push(
          `${testCase.name}: '${testCase.expect}' is for correlation rules (use match / no_match)`,
        );
      if (kind === "correlation" && !sequence)
        problems.push(`${testCase.name}: '${testCase.expect}' is for base rules (use fires / no_fire)`);
    }
    return { title: base?.title ?? correlation?.title, kind, problems };
  }

  /** A base rule's case: sync, one event. */
  checkEvent(ruleId: string, testCase: RuleTestCase): CaseResult {
    const result = { name: testCase.name, expect: testCase.expect };
    const rule = this.rulesById.get(ruleId);
    const event = testCase.events[0];
    if (rule === undefined) return { ...result, ok: false, detail: `no base rule ${ruleId}` };
    const fired = this.ruleset
      .match(event)
      .map((matched) => matched.id)
      .sort();
    if (testCase.expect === "no_match") {
      return rule.matches(event) || fired.includes(ruleId)
        ? { ...result, ok: false, detail: "the rule fired" }
        : { ...result, ok: true };
    }
    const expected = [...new Set([ruleId, ...testCase.alsoFires])].sort();
    if (JSON.stringify(fired) === JSON.stringify(expected)) return { ...result, ok: true };
    const missing = expected.filter((id) => !fired.includes(id));
    const extra = fired.filter((id) => !expected.includes(id));
    const parts = [
      missing.length > 0 ? `did not fire ${missing.map((id) => this.nameOf(id)).join(", ")}` : "",
      extra.length > 0
        ? `also fired ${extra.map((id) => this.nameOf(id)).join(", ")} (add to also_fires if intended)`
        : "",
    ].filter((part) => part !== "");
    return { ...result, ok: false, detail: parts.join("; ") };
  }

  /** A correlation's case: the sequence through the correlation engine, windows in a fresh KV bucket. */
  async checkSequence(ruleId: string, testCase: RuleTestCase): Promise<CaseResult> {
    const result = { name: testCase.name, expect: testCase.expect };
    const bus = createMemoryBus({ logger: silentLogger() });
    try {
      const spec: KvBucketSpec = {
        ...CORRELATION_BUCKET,
        name: `vigil-rule-tests-${process.pid}-${++bucketSerial}`,
      };
      const engine = new CorrelationEngine({ kv: await bus.openKv(spec), logger: silentLogger() });
      const firedAt: number[] = [];
      for (const [index, event] of testCase.events.entries()) {
        const correlated: CorrelatedMatch[] = [];
        this.evaluator.evaluate(event, correlated);
        const timestampMs = Date.parse(String(event["@timestamp"]));
        const alerts = await engine.process(
          correlated,
          new Date(Number.isNaN(timestampMs) ? 0 : timestampMs),
        );
        for (const alert of alerts) if (alert.rule.id === ruleId) firedAt.push(index + 1);
      }
      const last = testCase.events.length;
      if (testCase.expect === "no_fire") {
        return firedAt.length === 0
          ? { ...result, ok: true }
          : { ...result, ok: false, detail: `fired at event ${firedAt.join(", ")} of ${last}` };
      }
      if (firedAt.length === 1 && firedAt[0] === last) return { ...result, ok: true };
      const detail =
        firedAt.length === 0
          ? `did not fire over ${last} events`
          : `fired at event ${firedAt.join(", ")} of ${last} (expected once, at the last)`;
      return { ...result, ok: false, detail };
    } finally {
      await bus.close();
    }
  }

  async run(): Promise<RuleTestReport> {
    const results: RuleTestResult[] = [];
    for (const { file, test } of this.files) {
      const about = this.describe(test);
      const cases: CaseResult[] = [];
      if (about.problems.length === 0) {
        for (const testCase of test.cases) {
          cases.push(
            about.kind === "correlation"
              ? await this.checkSequence(test.rule, testCase)
              : this.checkEvent(test.rule, testCase),
          );
        }
      }
      const ok = about.problems.length === 0 && cases.every((c) => c.ok);
      results.push({ file, ruleId: test.rule, ...about, cases, ok });
    }
    const tested = new Set(this.files.map(({ test }) => test.rule));
    const untested = [...this.compiled.rules, ...this.compiled.correlations]
      .filter((rule) => !tested.has(rule.id))
      .map((rule) => ({ id: rule.id, title: rule.title, source: basename(rule.source) }));
    const all = results.flatMap((r) => r.cases);
    const passed = all.filter((c) => c.ok).length;
    const loadErrors = this.compiled.errors.map((error) => error.message);
    return {
      loadErrors,
      noTestsDirectory: this.noTestsDirectory,
      results,
      untested,
      passed,
      failed: all.length - passed,
      ok: loadErrors.length === 0 && !this.noTestsDirectory && results.every((r) => r.ok),
    };
  }

  private nameOf(id: string): string {
    const title = this.rulesById.get(id)?.title ?? this.correlationsById.get(id)?.title;
    return title === undefined ? id : `${id} (${title})`;
  }
}
