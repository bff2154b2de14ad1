import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Bus, connectNatsBus, silentLogger } from "@vigil/common";
import { serverConfigSchema, startVigilServer, type VigilServer } from "@vigil/server";
import { commandLineRule } from "../../../test/fixtures/process-rule";
import { type NatsServerHandle, startNatsServer } from "../../../test/harness/nats-server";
import {
  addRule,
  deleteRule,
  listRules,
  listVersions,
  type RulesApiOptions,
  rollbackRuleset,
  ruleHistory,
  setRuleEnabled,
  showRule,
  testRule,
  updateRule,
} from "./rules";
import { pushRules } from "./rules-push";

// `vigil rules` against a real server on real NATS: what an operator sees.

const TOKEN = "cli-rules-admin-token-0123456789";
const RULE_ID = "6a7b8c9d-0e1f-4a2b-8c3d-4e5f6a7b8c9d";
const OTHER_ID = "7b8c9d0e-1f2a-4b3c-9d4e-5f6a7b8c9d0e";
const PUSH_A = "8c9d0e1f-2a3b-4c4d-8e5f-6a7b8c9d0e1f";
const PUSH_B = "9d0e1f2a-3b4c-4d5e-9f6a-7b8c9d0e1f2a";

function ruleYaml(needle: string, id = RULE_ID): string {
  return commandLineRule(needle, { id, level: "medium" });
}

describe("vigil rules - against a real server", () => {
  let nats: NatsServerHandle;
  let bus: Bus;
  let server: VigilServer;
  let dir: string;
  let options: RulesApiOptions;
  let printed: string[];

  async function run(command: () => Promise<unknown>): Promise<string> {
    printed = [];
    await command();
    return printed.join("");
  }

  async function listCurrent(): Promise<{ version: number }> {
    const response = await fetch(`${options.api}/api/v1/rulesets/current`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    return (await response.json()) as { version: number };
  }

  beforeAll(async () => {
    nats = await startNatsServer();
    bus = await connectNatsBus({ servers: [nats.url], name: "cli-rules", logger: silentLogger() });
    const config = serverConfigSchema.parse({
      serverId: "cli-rules",
      grpc: { port: 0, agentToken: "cli-rules-agent-token-0123456789" },
      api: { port: 0, token: TOKEN },
    });
    server = await startVigilServer({ config, bus, logger: silentLogger() });
    options = { api: `http://127.0.0.1:${server.apiPort}`, token: TOKEN, json: false };
    dir = mkdtempSync(join(tmpdir(), "rules-cli-"));
    jest.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
      printed.push(String(chunk));
      return true;
    });
  });

  afterAll(async () => {
    jest.restoreAllMocks();
    await server?.close(0);
    await bus?.close();
    await nats?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("vigil rules - add, show, disable, update, versions, rollback, delete", async () => {
    const file = join(dir, "rule.yml");
    writeFileSync(file, ruleYaml("canary"));
    expect(await run(() => addRule(options, file, true))).toBe(
      `rule ${RULE_ID} (Command line holds canary) added: ruleset version 2\n`,
    );
    expect(await run(() => listRules(options))).toMatch(
      new RegExp(
        `^ruleset version 2, \\d+ rules\\nID +STATE +LEVEL +TITLE\\n[^]*${RULE_ID}  enabled  medium +Command line holds canary\\n`,
      ),
    );
    expect(await run(() => setRuleEnabled(options, RULE_ID, false))).toContain("disabled: ruleset version 3");
    writeFileSync(file, ruleYaml("other"));
    expect(await run(() => updateRule(options, RULE_ID, file))).toContain("updated: ruleset version 4");

    const shown = await run(() => showRule(options, RULE_ID));
    expect(shown).toContain(`# ${RULE_ID} (disabled) in ruleset version 4`);
    expect(shown).toMatch(/# {3}version 4: rule\.update by api\.token at /);
    expect(shown).toContain("CommandLine|contains: other");

    const versions = (await run(() => listVersions(options))).split("\n");
    expect(versions[0]).toMatch(/^VERSION +TIME +AGE +CHANGE +WHAT +ENABLED +BY$/);
    expect(versions[1]).toMatch(
      new RegExp(
        `^ +\\*4  \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d  \\d+s ago +rule\\.update +${RULE_ID} +\\d+/\\d+  api\\.token$`,
      ),
    );
    expect(versions[4]).toMatch(/^ +1 {2}.* ruleset\.seed +- /);
    const history = (await run(() => ruleHistory(options, RULE_ID))).split("\n");
    expect(history.slice(1, 4).map((line) => line.match(/rule\.\w+/)?.[0])).toEqual([
      "rule.update",
      "rule.disable",
      "rule.create",
    ]);
    expect(history[1]).toMatch(/^ +\*4 /);

    expect(await run(() => rollbackRuleset(options, 2))).toBe(
      "rules of version 2 restored as ruleset version 5\n",
    );
    expect(await run(() => showRule(options, RULE_ID))).toContain("CommandLine|contains: canary");
    expect(await run(() => deleteRule(options, RULE_ID))).toBe(
      `rule ${RULE_ID} deleted: ruleset version 6\n`,
    );
  });

  it("vigil rules - a refused rule is printed as file:line:column: problem", async () => {
    const file = join(dir, "bad.yml");
    writeFileSync(file, ruleYaml("x").replace("|contains", "|containz").replace(RULE_ID, OTHER_ID));
    await expect(addRule(options, file, true)).rejects.toThrow(
      `API 400: rule refused\n  ${file}:12:5: detection.selection: 'CommandLine|containz': unknown modifier 'containz'`,
    );
  });

  it("vigil rules - test runs a rule over JSON lines of events and names a bad line", async () => {
    const file = join(dir, "test-rule.yml");
    writeFileSync(file, ruleYaml("needle"));
    const exec = { event: { category: ["process"], type: ["start"], action: "exec" } };
    const events = join(dir, "events.jsonl");
    writeFileSync(
      events,
      `${JSON.stringify({ ...exec, process: { command_line: "grep needle" } })}\n\n${JSON.stringify({ ...exec, process: { command_line: "ls" } })}\n`,
    );
    expect(await run(() => testRule(options, file, events))).toBe(
      "Command line holds needle: fires on 1 of 2 events\n  event 1: MATCH\n  event 2: no match\n",
    );
    writeFileSync(events, `${JSON.stringify(exec)}\n{"broken": \n`);
    await expect(testRule(options, file, events)).rejects.toThrow(`${events}:2: not JSON`);

    const bad = join(dir, "bad-test.yml");
    writeFileSync(bad, ruleYaml("n").replace("condition: selection", "condition: selection or"));
    writeFileSync(events, `${JSON.stringify(exec)}\n`);
    const output = await run(() => testRule(options, bad, events));
    expect(output).toMatch(new RegExp(`^${bad}:13:\\d+: condition 'selection or'`));
    expect(process.exitCode).toBe(1);
    process.exitCode = 0;
  });

  it("vigil rules push - a directory: new rules added, changed ones replaced, identical ones left alone", async () => {
    const pushDir = join(dir, "push");
    mkdirSync(join(pushDir, "linux"), { recursive: true });
    mkdirSync(join(pushDir, "tests"), { recursive: true });
    const first = join(pushDir, "linux", "a.yml");
    const second = join(pushDir, "linux", "b.yml");
    writeFileSync(first, ruleYaml("push-a", PUSH_A));
    writeFileSync(second, ruleYaml("push-b", PUSH_B));
    // Rule tests are not rules: tests/ is skipped as the hub skips it.
    writeFileSync(join(pushDir, "tests", "a.yml"), "not: a rule\n");
    const push = { ...options, disabled: false, dryRun: false };

    const dry = (await run(() => pushRules({ ...push, dryRun: true }, [pushDir]))).split("\n");
    expect(dry[0]).toMatch(/^FILE +RULE +ACTION +VERSION$/);
    expect(dry.slice(1, 3).map((line) => line.split(/ +/).slice(1, 3))).toEqual([
      [PUSH_A, "would"],
      [PUSH_B, "would"],
    ]);
    const before = (await listCurrent()).version;

    const pushed = (await run(() => pushRules(push, [pushDir]))).split("\n");
    expect(pushed[1]).toMatch(new RegExp(`a\\.yml +${PUSH_A} +added +${before + 1}$`));
    expect(pushed[2]).toMatch(new RegExp(`b\\.yml +${PUSH_B} +added +${before + 2}$`));

    writeFileSync(second, ruleYaml("push-b2", PUSH_B));
    const again = await run(() => pushRules({ ...push, json: true }, [pushDir]));
    expect(
      again
        .split("\n")
        .filter(Boolean)
        .map((line) => JSON.parse(line)),
    ).toEqual([
      { file: first, ruleId: PUSH_A, action: "unchanged" },
      { file: second, ruleId: PUSH_B, action: "updated", version: before + 3 },
    ]);
    expect(await run(() => showRule(options, PUSH_B))).toContain("CommandLine|contains: push-b2");

    // A refused file stops the push; what went before it is reported (and stays).
    writeFileSync(first, ruleYaml("push-a2", PUSH_A));
    writeFileSync(second, ruleYaml("x", PUSH_B).replace("|contains", "|containz"));
    printed = [];
    await expect(pushRules(push, [pushDir])).rejects.toThrow(`API 400: rule refused\n  ${second}:12:5:`);
    expect(printed.join("")).toMatch(new RegExp(`a\\.yml +${PUSH_A} +updated +${before + 4}\\n$`));
    expect((await listCurrent()).version).toBe(before + 4);
  });

  it("vigil rules push - two files with one id are refused before anything is sent", async () => {
    const one = join(dir, "one.yml");
    const two = join(dir, "two.yml");
    writeFileSync(one, ruleYaml("dup", PUSH_A));
    writeFileSync(two, ruleYaml("dup", PUSH_A));
    await expect(pushRules({ ...options, disabled: false, dryRun: false }, [one, two])).rejects.toThrow(
      `${two}: rule id ${PUSH_A} is also the id in ${one}`,
    );
  });
});
