import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { credentialPath } from "@vigil/agent";
import { silentLogger } from "@vigil/common";
import { type EmbeddedVigil, startEmbedded } from "../../cli/src/commands/embedded";
import { commandLineRule } from "../fixtures/process-rule";
import { apiCall } from "../harness/servers-on-nats";
import { waitFor } from "../harness/wait-for";

// Embedded mode (server + hub + agent in one process) stopped and started
// again on the same data dir: what the operator pushed through the API is
// still there, the rules seed does not run again, and the agent reconnects
// with its stored credential instead of enrolling anew.

const SCENARIO = join(__dirname, "..", "e2e", "scenarios", "credential-access.jsonl");
const RULE_ID = "3b1d2c4e-5f60-4a7b-8c9d-0e1f2a3b4c5d";
const RULE_YAML = commandLineRule("restart-canary", { id: RULE_ID });

interface AgentView {
  agentId: string;
  status: string;
  sessionId: string;
}

let dataDir: string;
let running: EmbeddedVigil | undefined;

function start(): Promise<EmbeddedVigil> {
  return startEmbedded({
    dataDir,
    apiPort: 0,
    grpcPort: 0,
    collectors: ["replay"],
    replayFiles: [SCENARIO],
    logger: silentLogger(),
  });
}

async function onlineAgent(vigil: EmbeddedVigil, notSession?: string): Promise<AgentView> {
  let found: AgentView | undefined;
  await waitFor(
    async () => {
      const answer = await apiCall(vigil.server, "GET", "/api/v1/agents");
      const agents = answer.body.agents as AgentView[];
      found = agents.find((agent) => agent.status === "online" && agent.sessionId !== notSession);
      return found !== undefined;
    },
    20_000,
    "the embedded agent online in the fleet registry",
  );
  return found as AgentView;
}

beforeAll(() => {
  dataDir = mkdtempSync(join(tmpdir(), "sqlite-kv-embedded-"));
});

afterAll(async () => {
  await running?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

test("embedded restart - rules, API tokens, agent config and the agent's enrolment survive; no second seed, no new enrolment", async () => {
  running = await start();
  const first = running;
  const agent = await onlineAgent(first);
  const seeded = await apiCall(first.server, "GET", "/api/v1/rulesets");
  expect((seeded.body.versions as Array<{ version: number }>).map((v) => v.version)).toEqual([1]);

  const created = await apiCall(first.server, "POST", "/api/v1/rules", { body: { yaml: RULE_YAML } });
  expect(created.status).toBe(201);
  const token = await apiCall(first.server, "POST", "/api/v1/tokens", {
    body: { name: "restart-viewer", role: "viewer" },
  });
  expect(token.status).toBe(201);
  const config = await apiCall(first.server, "PUT", "/api/v1/agent-config/default", {
    body: { policy: { batch: { maxEvents: 42 } } },
  });
  expect(config.status).toBe(200);
  await waitFor(
    () => first.agent.agent.runtimeSettings().batch.maxEvents === 42,
    10_000,
    "the config applied",
  );
  const enrolled = (await apiCall(first.server, "GET", "/api/v1/enrolled-agents")).body.agents;
  const enrolmentTokens = (await apiCall(first.server, "GET", "/api/v1/enrollment-tokens")).body.tokens;
  const credential = readFileSync(credentialPath(dataDir), "utf8");
  const rulesetsBefore = (await apiCall(first.server, "GET", "/api/v1/rulesets")).body.versions;

  await first.stop();
  running = undefined;
  running = await start();
  const second = running;

  // The ruleset: the operator's version, the rule in it, one seed in the history.
  const current = await apiCall(second.server, "GET", "/api/v1/rulesets/current");
  expect(current.body).toMatchObject({ version: 2 });
  const versions = (await apiCall(second.server, "GET", "/api/v1/rulesets")).body.versions;
  expect(versions).toEqual(rulesetsBefore);
  expect((versions as Array<{ change: { action: string } }>).map((v) => v.change.action)).toEqual([
    "rule.create",
    "ruleset.seed",
  ]);
  const rule = await apiCall(second.server, "GET", `/api/v1/rules/${RULE_ID}`);
  expect(rule.status).toBe(200);
  expect(rule.body).toMatchObject({ id: RULE_ID, enabled: true });

  // The API token still authenticates (and an unknown one still does not).
  const withToken = await apiCall(second.server, "GET", "/api/v1/agents", {
    token: (token.body as { token: string }).token,
  });
  expect(withToken.status).toBe(200);
  const unknown = await apiCall(second.server, "GET", "/api/v1/agents", {
    token: `${(token.body as { token: string }).token.slice(0, -4)}AAAA`,
  });
  expect(unknown.status).toBe(401);

  // The agent config document is there and reaches the agent again.
  const stored = await apiCall(second.server, "GET", "/api/v1/agent-config/default");
  expect(stored.body).toMatchObject({ revision: config.body.revision, policy: { batch: { maxEvents: 42 } } });
  await waitFor(
    () => second.agent.agent.runtimeSettings().batch.maxEvents === 42,
    10_000,
    "the config applied again",
  );

  // The agent is back online under its id, on its stored credential: no new enrolment, no new token.
  const back = await onlineAgent(second, agent.sessionId);
  expect(back.agentId).toBe(agent.agentId);
  expect((await apiCall(second.server, "GET", "/api/v1/enrolled-agents")).body.agents).toEqual(enrolled);
  expect(enrolled).toHaveLength(1);
  expect((await apiCall(second.server, "GET", "/api/v1/enrollment-tokens")).body.tokens).toEqual(
    enrolmentTokens,
  );
  expect(readFileSync(credentialPath(dataDir), "utf8")).toBe(credential);
});
