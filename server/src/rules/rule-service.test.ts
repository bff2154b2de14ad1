import { type Bus, createMemoryBus, defaultStreams, silentLogger } from "@vigil/common";
import { RULESETS_BUCKET, sha256Hex } from "@vigil/hub";
import { commandLineRule } from "../../../test/fixtures/process-rule";
import { BusAuditTrail } from "../audit/bus-audit-trail";
import type { AuditActor } from "../audit/types";
import type { RuleChangeRefused } from "./rule-change-refused";
import { RuleService } from "./rule-service";
import { RulesetStore } from "./ruleset-store";

// The rules API's operations on correlation rules, on an in-process KV
// bucket (the NATS one is exercised by test/integration/rules-api.test.ts).

const logger = silentLogger();
const actor: AuditActor = { id: "op", name: "operator", role: "operator" };

const BASE_ID = "0c4f7a1e-2b3d-4e5f-8a6b-7c8d9e0f1a01";
const CORR_ID = "0c4f7a1e-2b3d-4e5f-8a6b-7c8d9e0f1ac1";
const FILE_BASE_ID = "0c4f7a1e-2b3d-4e5f-8a6b-7c8d9e0f1a02";
const FILE_CORR_ID = "0c4f7a1e-2b3d-4e5f-8a6b-7c8d9e0f1ac2";

function base(id: string, name: string, needle: string): string {
  return commandLineRule(needle, { id, name, title: `${needle} run`, level: "low" });
}

function correlation(id: string, uses: string, gte = 3): string {
  return `title: ${uses} ${gte} times on one host
id: ${id}
status: test
level: high
correlation:
  type: event_count
  rules:
    - ${uses}
  group-by:
    - host.name
  timespan: 5m
  condition:
    gte: ${gte}
`;
}

function exec(commandLine: string, host: string, second: number) {
  return {
    "@timestamp": new Date(Date.UTC(2026, 0, 1, 0, 0, second)).toISOString(),
    event: { id: `e-${host}-${second}`, category: ["process"], type: ["start"], action: "exec" },
    host: { name: host },
    process: { command_line: commandLine },
  };
}

async function refusal(promise: Promise<unknown>): Promise<RuleChangeRefused> {
  try {
    await promise;
  } catch (error) {
    return error as RuleChangeRefused;
  }
  throw new Error("expected the change to be refused");
}

describe("rule service - correlation rules", () => {
  let bus: Bus;
  let service: RuleService;
  let store: RulesetStore;
  let serial = 0;

  beforeEach(async () => {
    bus = createMemoryBus({ logger });
    await bus.ensureStreams(defaultStreams());
    store = new RulesetStore({
      kv: await bus.openKv({ ...RULESETS_BUCKET, name: `rules-${++serial}` }),
      logger,
    });
    const seeded = base(BASE_ID, "whoami_run", "whoami");
    await store.seed([{ id: BASE_ID, enabled: true, sha256: sha256Hex(seeded), yaml: seeded }], {
      id: "system",
      name: "test",
    });
    service = new RuleService({ store, audit: new BusAuditTrail(bus, "test", logger), logger });
  });

  afterEach(() => bus.close());

  it("creates a correlation on a stored base rule; lists it as a correlation; deleting or disabling the base rule is refused naming it", async () => {
    const created = await service.create(correlation(CORR_ID, "whoami_run"), true, actor);
    expect(created.version).toBe(2);
    expect(created.rule).toMatchObject({
      id: CORR_ID,
      kind: "correlation",
      category: "event_count",
      uses: [BASE_ID],
    });
    const listed = await service.list();
    expect(listed.rules.map((rule) => `${rule.kind}:${rule.id}`)).toEqual([
      `rule:${BASE_ID}`,
      `correlation:${CORR_ID}`,
    ]);

    const deleted = await refusal(service.delete(BASE_ID, actor));
    expect(deleted.status).toBe(400);
    expect(deleted.message).toContain(`rule ${BASE_ID} is used by correlation ${CORR_ID}`);
    expect(deleted.problems).toEqual([expect.objectContaining({ ruleId: CORR_ID, line: 8, column: 7 })]);
    const disabled = await refusal(service.setEnabled(BASE_ID, false, actor));
    expect(disabled.status).toBe(400);
    expect(disabled.message).toContain(`used by correlation ${CORR_ID}`);
    expect((await service.current()).version).toBe(2);

    // A disabled correlation no longer holds its rule running; it still holds it stored.
    await service.setEnabled(CORR_ID, false, actor);
    expect((await service.setEnabled(BASE_ID, false, actor)).rule.enabled).toBe(false);
    expect((await refusal(service.delete(BASE_ID, actor))).message).toContain(
      `used by correlation ${CORR_ID}`,
    );
    const reenabled = await refusal(service.setEnabled(CORR_ID, true, actor));
    expect(reenabled.problems?.[0]?.message).toContain(`is in disabled rule ${BASE_ID}`);

    await service.delete(CORR_ID, actor);
    const after = await service.delete(BASE_ID, actor);
    expect((await service.current()).version).toBe(after.version);
    expect((await service.current()).rules).toEqual([]);
  });

  it("a correlation referring to an unknown rule is refused with a 400 naming it and its line; nothing is stored", async () => {
    const refused = await refusal(service.create(correlation(CORR_ID, "whoami_typo"), true, actor));
    expect(refused.status).toBe(400);
    expect(refused.message).toMatch(/^line 8: correlation\.rules\[0\]: unknown rule 'whoami_typo'/);
    expect(refused.problems).toEqual([expect.objectContaining({ ruleId: CORR_ID, line: 8, column: 7 })]);
    expect((await service.current()).version).toBe(1);
  });

  it("a correlation file is one rule: updated and deleted with its base rules, which cannot be created twice", async () => {
    const file = `${correlation(FILE_CORR_ID, "touch_run", 2)}---\n${base(FILE_BASE_ID, "touch_run", "touch")}`;
    const created = await service.create(file, true, actor);
    expect(created.rule).toMatchObject({ id: FILE_CORR_ID, kind: "correlation", contains: [FILE_BASE_ID] });
    const again = await refusal(service.create(base(FILE_BASE_ID, "touch_again", "touch"), true, actor));
    expect(again.status).toBe(400);
    expect(again.message).toContain("duplicate rule id");

    const changed = file.replace("gte: 2", "gte: 4");
    const updated = await service.update(FILE_CORR_ID, changed, undefined, actor);
    expect(updated.rule.title).toBe("touch_run 2 times on one host");
    expect((await service.get(FILE_CORR_ID)).yaml).toBe(changed);
    await service.delete(FILE_CORR_ID, actor);
    expect((await service.current()).rules.map((rule) => rule.id)).toEqual([BASE_ID]);
  });

  it("rollback to a version that no longer compiles with the hub's compiler is refused with the problems", async () => {
    await store.apply((current) => ({
      rules: [
        ...current.rules,
        { id: CORR_ID, enabled: true, sha256: "x", yaml: correlation(CORR_ID, "nothing_like_it") },
      ],
      change: { action: "rule.create", ruleId: CORR_ID, actor },
    }));
    const refused = await refusal(service.rollback(2, actor));
    expect(refused.status).toBe(400);
    expect(refused.problems).toEqual([expect.objectContaining({ ruleId: CORR_ID, line: 8 })]);
  });

  it("dry run of a correlation: the events go through the correlation engine, the firing event is reported", async () => {
    const events = [
      exec("whoami", "a", 1),
      exec("whoami", "b", 2),
      exec("ls", "a", 3),
      exec("whoami", "a", 4),
      exec("whoami", "a", 5),
      exec("whoami", "a", 6),
    ];
    const run = await service.dryRun(correlation(CORR_ID, "whoami_run"), events);
    expect(run).toMatchObject({ valid: true, problems: [], rule: { id: CORR_ID, kind: "correlation" } });
    expect(run.matched).toEqual([4]);
    expect(run.results[2]).toEqual({ index: 2, matched: false, rules: [] });
    expect(run.results[4]).toEqual({ index: 4, matched: true, rules: [BASE_ID] });
    expect(run.fires).toEqual([{ index: 4, message: expect.stringContaining("host.name=a") }]);
    // A second run starts from empty windows.
    expect((await service.dryRun(correlation(CORR_ID, "whoami_run"), events)).matched).toEqual([4]);

    const unknown = await service.dryRun(correlation(CORR_ID, "nope"), events);
    expect(unknown).toMatchObject({ valid: false, problems: [expect.objectContaining({ line: 8 })] });
    expect((await service.current()).version).toBe(1);
  });
});
