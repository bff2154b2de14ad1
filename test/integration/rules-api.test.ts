import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type Bus,
  connectNatsBus,
  createLogger,
  type EcsDocument,
  eventsSubject,
  type Logger,
  SqliteAlertStore,
  silentLogger,
} from "@vigil/common";
import { DEFAULT_RULES_DIR, hubConfigSchema, listRuleFiles, type RunningHub, startHub } from "@vigil/hub";
import { BusEventBatch, type CanonicalEvent } from "@vigil/proto";
import { serverConfigSchema, startVigilServer, type VigilServer } from "@vigil/server";
import { busExecEvent } from "../fixtures/bus-exec-event";
import { commandLineRule } from "../fixtures/process-rule";
import { type NatsServerHandle, startNatsServer } from "../harness/nats-server";
import { type ApiAnswer, apiCall } from "../harness/servers-on-nats";
import { waitFor } from "../harness/wait-for";

// Rules through the API, end to end on real NATS: two servers share one
// ruleset bucket, a real hub consumes real JetStream and picks up each new
// ruleset version without a restart.

const ADMIN = "rules-api-admin-token-0123456789";
const logger = silentLogger();
/** Server A's log lines: seeding the default rules must log no error. */
const serverALines: string[] = [];
const serverALogger = createLogger({
  name: "rules-a",
  level: "info",
  destination: { write: (line) => serverALines.push(line) },
});

const RULE_ID = "3c6f0a8e-5d4b-4f1e-9a7c-2b8d1e0f4a11";

function ruleYaml(needle: string, id = RULE_ID): string {
  return commandLineRule(needle, { id });
}

let sequence = 0;

function exec(commandLine: string): CanonicalEvent {
  sequence++;
  return busExecEvent({
    id: `rules-agent:1:${sequence}`,
    timestampUs: Date.now() * 1000,
    pid: 1000 + sequence,
    executable: "/bin/sh",
    commandLine,
    hostName: "rules-host",
  });
}

describe("rules API - real NATS, two servers, a live hub", () => {
  let nats: NatsServerHandle;
  const buses: Bus[] = [];
  let serverA: VigilServer;
  let serverB: VigilServer;
  let hub: RunningHub;
  let dataDir: string;
  let alertStore: SqliteAlertStore;

  async function connect(name: string): Promise<Bus> {
    const bus = await connectNatsBus({ servers: [nats.url], name, logger });
    buses.push(bus);
    return bus;
  }

  async function startServer(serverId: string, serverLogger: Logger = logger): Promise<VigilServer> {
    const config = serverConfigSchema.parse({
      serverId,
      grpc: { port: 0, agentToken: "rules-agent-token-0123456789" },
      api: { port: 0, token: ADMIN },
    });
    return startVigilServer({ config, bus: await connect(serverId), logger: serverLogger });
  }

  async function api(
    server: VigilServer,
    method: string,
    path: string,
    body?: unknown,
    token = ADMIN,
  ): Promise<ApiAnswer> {
    return apiCall(server, method, path, { body, token });
  }

  async function currentVersion(server: VigilServer): Promise<number> {
    const { body } = await api(server, "GET", "/api/v1/rulesets");
    return body.current as number;
  }

  /** Publishes one exec event and waits until the hub has acked it (its alerts are stored by then); returns them. */
  async function fire(commandLine: string): Promise<EcsDocument[]> {
    const event = exec(commandLine);
    await buses[0].publish(
      eventsSubject("rules-agent"),
      BusEventBatch.encode({
        agentId: "rules-agent",
        sequence,
        serverId: "test",
        receivedUs: 0,
        events: [event],
        host: undefined,
        agent: undefined,
        parents: [],
      }).finish(),
      { msgId: `rules-agent:${sequence}` },
    );
    const acked = async () => {
      const text = await hub.service.metricsRegistry.getSingleMetricAsString("vigil_hub_batches_total");
      const count = /^vigil_hub_batches_total\{[^}]*outcome="acked"[^}]*\} (\d+)/m.exec(text)?.[1];
      return Number(count ?? 0) >= sequence;
    };
    await waitFor(acked, 15_000, `hub to ack event ${sequence}`);
    const stored = await alertStore.query({ limit: 1000 });
    return stored.filter((alert) => (alert.vigil as EcsDocument | undefined)?.event_id === event.event?.id);
  }

  beforeAll(async () => {
    nats = await startNatsServer();
    dataDir = mkdtempSync(join(tmpdir(), "rules-api-it-"));
    serverA = await startServer("rules-a", serverALogger);
    serverB = await startServer("rules-b");
    const hubBus = await connect("rules-hub");
    hub = await startHub(
      hubConfigSchema.parse({ hubId: "rules-hub", alertStorePath: join(dataDir, "alerts.db") }),
      hubBus,
      logger,
    );
    alertStore = new SqliteAlertStore({ path: join(dataDir, "alerts.db"), logger });
  });

  afterAll(async () => {
    await hub?.stop();
    await alertStore?.close();
    await serverA?.close(0);
    await serverB?.close(0);
    for (const bus of buses) await bus.close();
    await nats?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it("rules API - both servers agree on version 1, seeded once from the default rules", async () => {
    const a = await api(serverA, "GET", "/api/v1/rulesets");
    const b = await api(serverB, "GET", "/api/v1/rulesets");
    expect(a.body.current).toBe(1);
    expect(b.body.current).toBe(1);
    const versions = a.body.versions as Array<{ version: number; change: { action: string }; rules: number }>;
    expect(versions).toHaveLength(1);
    expect(versions[0].change.action).toBe("ruleset.seed");
    // Every file of the default rules directory, the correlation files included (73 base rules and 2 correlations).
    expect(versions[0].rules).toBe(listRuleFiles(DEFAULT_RULES_DIR).length);
    expect(versions[0].rules).toBe(75);
    const listed = await api(serverB, "GET", "/api/v1/rules");
    const kinds = (listed.body.rules as Array<{ kind: string }>).map((rule) => rule.kind);
    expect(kinds.filter((kind) => kind === "correlation")).toHaveLength(2);
    const errors = serverALines.map((line) => JSON.parse(line)).filter((line) => line.level >= 50);
    expect(errors).toEqual([]);
    expect(serverALines.some((line) => line.includes('"rules":75') && line.includes("ruleset seeded"))).toBe(
      true,
    );
    await waitFor(() => hub.rulesets?.version === 1, 15_000, "hub to install version 1");
  });

  it("rules API - a created rule fires on the running hub's next event; disabled it stops; enabled it fires again", async () => {
    expect(await fire("echo canary-one")).toEqual([]);

    const created = await api(serverA, "POST", "/api/v1/rules", { yaml: ruleYaml("canary-one") });
    expect(created.status).toBe(201);
    const version = (created.body as { version: number }).version;
    await waitFor(() => hub.rulesets?.version === version, 15_000, `hub to install version ${version}`);
    const fired = await fire("echo canary-one");
    expect(fired).toHaveLength(1);
    expect(fired[0].rule).toMatchObject({ id: RULE_ID, version: String(version) });

    const disabled = await api(serverB, "POST", `/api/v1/rules/${RULE_ID}/disable`);
    expect(disabled.status).toBe(200);
    expect(disabled.body).toMatchObject({ version: version + 1, rule: { id: RULE_ID, enabled: false } });
    await waitFor(() => hub.rulesets?.version === version + 1, 15_000, "hub to install the disable");
    expect(await fire("echo canary-one")).toEqual([]);

    const enabled = await api(serverA, "POST", `/api/v1/rules/${RULE_ID}/enable`);
    expect(enabled.body).toMatchObject({ version: version + 2, rule: { enabled: true } });
    await waitFor(() => hub.rulesets?.version === version + 2, 15_000, "hub to install the enable");
    expect(await fire("echo canary-one")).toHaveLength(1);
    const gauges = await hub.service.metricsRegistry.metrics();
    expect(gauges).toMatch(new RegExp(`^vigil_hub_ruleset_version\\{[^}]*\\} ${version + 2}$`, "m"));

    const shown = await api(serverB, "GET", `/api/v1/rules/${RULE_ID}`);
    expect(shown.body).toMatchObject({ id: RULE_ID, enabled: true, yaml: ruleYaml("canary-one") });
    const history = (shown.body.history as Array<{ version: number; change: { action: string } }>).map(
      (entry) => `${entry.version}:${entry.change.action}`,
    );
    expect(history).toEqual([
      `${version + 2}:rule.enable`,
      `${version + 1}:rule.disable`,
      `${version}:rule.create`,
    ]);
  });

  it("rules API - a bad rule is refused with a 400 naming its line, and the ruleset version does not move", async () => {
    const before = await currentVersion(serverA);
    const bad = ruleYaml("x", "9d2a7b61-0c3e-4f58-8a6d-5e4f3c2b1a00").replace(
      "CommandLine|contains",
      "CommandLine|containz",
    );
    const refused = await api(serverA, "POST", "/api/v1/rules", { yaml: bad });
    expect(refused.status).toBe(400);
    expect(refused.body.error).toBe("rule_invalid");
    expect(refused.body.message).toMatch(
      /^line 12: detection\.selection: 'CommandLine\|containz': unknown modifier 'containz'/,
    );
    expect(refused.body.problems).toEqual([expect.objectContaining({ line: 12, column: 5 })]);

    const broken = await api(serverA, "PUT", `/api/v1/rules/${RULE_ID}`, {
      yaml: `${ruleYaml("y")}  bad: [\n`,
    });
    expect(broken.status).toBe(400);
    expect((broken.body.problems as Array<{ line: number }>)[0].line).toBeGreaterThanOrEqual(14);

    const wrongId = await api(serverA, "PUT", `/api/v1/rules/${RULE_ID}`, {
      yaml: ruleYaml("z", "9d2a7b61-0c3e-4f58-8a6d-5e4f3c2b1a00"),
    });
    expect(wrongId.status).toBe(400);
    const duplicate = await api(serverA, "POST", "/api/v1/rules", { yaml: ruleYaml("dup") });
    expect(duplicate.status).toBe(409);
    const missing = await api(serverA, "POST", "/api/v1/rules/7e0e7e0e-0000-4000-8000-000000000000/disable");
    expect(missing.status).toBe(404);
    const noYaml = await api(serverA, "POST", "/api/v1/rules", { yml: "x" });
    expect(noYaml.status).toBe(400);
    expect(await currentVersion(serverB)).toBe(before);
  });

  it("rules API - rollback restores an earlier version's rules as a new version, and the hub follows", async () => {
    const before = await currentVersion(serverA);
    const updated = await api(serverA, "PUT", `/api/v1/rules/${RULE_ID}`, { yaml: ruleYaml("canary-two") });
    expect(updated.status).toBe(200);
    await waitFor(() => hub.rulesets?.version === before + 1, 15_000, "hub to install the update");
    expect(await fire("echo canary-one")).toEqual([]);
    expect(await fire("echo canary-two")).toHaveLength(1);

    const rolled = await api(serverB, "POST", `/api/v1/rulesets/${before}/rollback`);
    expect(rolled.status).toBe(201);
    expect(rolled.body).toEqual({ version: before + 2, restoredVersion: before });
    await waitFor(() => hub.rulesets?.version === before + 2, 15_000, "hub to install the rollback");
    expect(await fire("echo canary-one")).toHaveLength(1);
    expect(await fire("echo canary-two")).toEqual([]);

    const restored = await api(serverA, "GET", `/api/v1/rulesets/${before + 2}`);
    const original = await api(serverA, "GET", `/api/v1/rulesets/${before}`);
    expect(restored.body.rules).toEqual(original.body.rules);
    expect(restored.body.change).toMatchObject({ action: "ruleset.rollback", restoredVersion: before });
    expect((await api(serverA, "POST", "/api/v1/rulesets/9999/rollback")).status).toBe(404);
  });

  it("rules API - concurrent changes on two servers all land (compare-and-set, no lost update)", async () => {
    const before = await currentVersion(serverA);
    const ids = Array.from({ length: 8 }, (_, i) => `5b0c1d2e-3f40-4a5b-8c6d-${String(i).padStart(12, "0")}`);
    const results = await Promise.all(
      ids.map((id, i) =>
        api(i % 2 === 0 ? serverA : serverB, "POST", "/api/v1/rules", { yaml: ruleYaml(`c${i}`, id) }),
      ),
    );
    expect(results.map((result) => result.status)).toEqual(ids.map(() => 201));
    expect(new Set(results.map((result) => result.body.version)).size).toBe(ids.length);
    const listed = await api(serverB, "GET", "/api/v1/rules");
    expect(listed.body.version).toBe(before + ids.length);
    const listedIds = (listed.body.rules as Array<{ id: string }>).map((rule) => rule.id);
    for (const id of ids) expect(listedIds).toContain(id);

    const deleted = await api(serverA, "DELETE", `/api/v1/rules/${ids[0]}`);
    expect(deleted.body).toEqual({ version: before + ids.length + 1 });
    expect((await api(serverB, "GET", `/api/v1/rules/${ids[0]}`)).status).toBe(404);
  });

  it("rules API - dry run reports which sample events match, or the rule's problems by line, and stores nothing", async () => {
    const before = await currentVersion(serverA);
    const exec = { event: { category: ["process"], type: ["start"], action: "exec" } };
    const run = await api(serverA, "POST", "/api/v1/rules/dry-run", {
      yaml: ruleYaml("needle", "0d0d0d0d-0000-4000-8000-000000000001"),
      events: [
        { ...exec, process: { command_line: "grep needle file" } },
        { ...exec, process: { command_line: "ls" } },
        { event: { category: ["network"], type: ["connection"] }, process: { command_line: "needle" } },
      ],
    });
    expect(run.status).toBe(200);
    expect(run.body).toMatchObject({ valid: true, matched: [0] });
    expect(run.body.results).toEqual([
      { index: 0, matched: true },
      { index: 1, matched: false },
      { index: 2, matched: false },
    ]);
    const invalid = await api(serverA, "POST", "/api/v1/rules/dry-run", {
      yaml: ruleYaml("n").replace("condition: selection", "condition: selection and"),
      events: [],
    });
    expect(invalid.body).toMatchObject({ valid: false, problems: [expect.objectContaining({ line: 13 })] });
    const tooMany = await api(serverA, "POST", "/api/v1/rules/dry-run", {
      yaml: ruleYaml("n"),
      events: Array.from({ length: 1001 }, () => ({})),
    });
    expect(tooMany.status).toBe(400);
    expect(tooMany.body.message).toContain("events");
    expect(await currentVersion(serverB)).toBe(before);
  });

  it("rules API - a viewer token reads rules but cannot change them; each change is in the audit trail", async () => {
    const created = await api(serverA, "POST", "/api/v1/tokens", { name: "rules-viewer", role: "viewer" });
    expect(created.status).toBe(201);
    const viewer = created.body.token as string;
    expect((await api(serverA, "GET", "/api/v1/rules", undefined, viewer)).status).toBe(200);
    expect((await api(serverB, "GET", "/api/v1/rulesets/1", undefined, viewer)).status).toBe(200);
    const before = await currentVersion(serverA);
    for (const [method, path, body] of [
      ["POST", "/api/v1/rules", { yaml: ruleYaml("v", "0e0e0e0e-0000-4000-8000-000000000001") }],
      ["POST", `/api/v1/rules/${RULE_ID}/disable`, undefined],
      ["DELETE", `/api/v1/rules/${RULE_ID}`, undefined],
      ["POST", "/api/v1/rulesets/1/rollback", undefined],
    ] as const) {
      expect((await api(serverB, method, path, body, viewer)).status).toBe(403);
    }
    expect(await currentVersion(serverA)).toBe(before);

    const audit = await api(serverA, "GET", "/api/v1/audit?limit=1000");
    const records = audit.body.records as Array<{ action: string; target: string }>;
    const actions = records
      .filter((record) => record.target === `rule/${RULE_ID}`)
      .map((record) => record.action);
    expect(actions).toEqual(
      expect.arrayContaining(["rule.create", "rule.disable", "rule.enable", "rule.update"]),
    );
    expect(records.some((record) => record.action === "ruleset.rollback")).toBe(true);
  });

  it("rules API - a correlation pushed through the API fires on the running hub at its threshold; its base rule cannot be deleted under it", async () => {
    const baseId = "4d7e8f90-1a2b-4c3d-8e4f-5a6b7c8d9e01";
    const corrId = "4d7e8f90-1a2b-4c3d-8e4f-5a6b7c8d9ec1";
    const base = commandLineRule("corr-canary", { id: baseId, name: "corr_canary_run" });
    expect((await api(serverA, "POST", "/api/v1/rules", { yaml: base })).status).toBe(201);
    const correlationYaml = `title: corr-canary three times on one host
id: ${corrId}
status: test
level: critical
correlation:
  type: event_count
  rules:
    - corr_canary_run
  group-by:
    - host.name
  timespan: 10m
  condition:
    gte: 3
`;
    const created = await api(serverB, "POST", "/api/v1/rules", { yaml: correlationYaml });
    expect(created.status).toBe(201);
    expect(created.body.rule).toMatchObject({ id: corrId, kind: "correlation", uses: [baseId] });
    const version = created.body.version as number;
    await waitFor(() => hub.rulesets?.version === version, 15_000, `hub to install version ${version}`);

    // The base rule alerts only through the correlation (Sigma: generate is false by default).
    expect(await fire("echo corr-canary 1")).toEqual([]);
    expect(await fire("echo corr-canary 2")).toEqual([]);
    const fired = await fire("echo corr-canary 3");
    expect(fired).toHaveLength(1);
    expect(fired[0].rule).toMatchObject({ id: corrId, version: String(version) });
    expect(fired[0].message).toContain("host.name=rules-host");

    const deleted = await api(serverA, "DELETE", `/api/v1/rules/${baseId}`);
    expect(deleted.status).toBe(400);
    expect(deleted.body.message).toContain(`used by correlation ${corrId}`);
    expect(deleted.body.problems).toEqual([expect.objectContaining({ ruleId: corrId, line: 8, column: 7 })]);
    const disabled = await api(serverB, "POST", `/api/v1/rules/${baseId}/disable`);
    expect(disabled.status).toBe(400);
    expect(await currentVersion(serverA)).toBe(version);
  });

  it("rules API - a correlation referring to an unknown rule gets a 400 naming it and its line, and changes nothing", async () => {
    const before = await currentVersion(serverA);
    const refused = await api(serverA, "POST", "/api/v1/rules", {
      yaml: `title: refers to nothing
id: 4d7e8f90-1a2b-4c3d-8e4f-5a6b7c8d9ec2
status: test
level: high
correlation:
  type: event_count
  rules:
    - no_such_rule_anywhere
  group-by:
    - host.name
  timespan: 1m
  condition:
    gte: 2
`,
    });
    expect(refused.status).toBe(400);
    expect(refused.body.error).toBe("rule_invalid");
    expect(refused.body.message).toMatch(
      /^line 8: correlation\.rules\[0\]: unknown rule 'no_such_rule_anywhere'/,
    );
    expect(refused.body.problems).toEqual([expect.objectContaining({ line: 8, column: 7 })]);
    expect(await currentVersion(serverB)).toBe(before);
    expect((await api(serverB, "GET", "/api/v1/rules/4d7e8f90-1a2b-4c3d-8e4f-5a6b7c8d9ec2")).status).toBe(
      404,
    );
  });
});
