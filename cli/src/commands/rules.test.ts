import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
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
  setRuleEnabled,
  showRule,
  testRule,
  updateRule,
} from "./rules";

// `vigil rules` against a real server on real NATS: what an operator sees.

const TOKEN = "cli-rules-admin-token-0123456789";
const RULE_ID = "6a7b8c9d-0e1f-4a2b-8c3d-4e5f6a7b8c9d";

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

  async function run(command: () => Promise<void>): Promise<string> {
    printed = [];
    await command();
    return printed.join("");
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
        `^ruleset version 2, \\d+ rules\\n[^]*${RULE_ID}  enabled   medium {8}Command line holds canary\\n`,
      ),
    );
    expect(await run(() => setRuleEnabled(options, RULE_ID, false))).toContain("disabled: ruleset version 3");
    writeFileSync(file, ruleYaml("other"));
    expect(await run(() => updateRule(options, RULE_ID, file))).toContain("updated: ruleset version 4");

    const shown = await run(() => showRule(options, RULE_ID));
    expect(shown).toContain(`# ${RULE_ID} (disabled) in ruleset version 4`);
    expect(shown).toMatch(/# {3}version 4: rule\.update by api\.token at /);
    expect(shown).toContain("CommandLine|contains: other");

    const versions = await run(() => listVersions(options));
    expect(versions.split("\n")[0]).toMatch(/^\* {5}4 {2}\S+ {2}rule\.update {7}/);
    expect(versions).toMatch(/ {5}1 {2}\S+ {2}ruleset\.seed/);

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
    writeFileSync(file, ruleYaml("x").replace("|contains", "|containz"));
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
});
