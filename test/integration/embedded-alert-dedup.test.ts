// Embedded mode's alert store counts duplicates: a rule with a suppression
// window matched by several events, each sent in its own agent batch (so the
// hub sees them one bus batch at a time and must raise the stored alert's
// count in SQLite, not just set it on a fresh alert), shows up in the API's
// alert search as one alert whose vigil.alert.count is the number of matches.

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type EcsDocument, silentLogger } from "@vigil/common";
import { type EmbeddedVigil, startEmbedded } from "../../cli/src/commands/embedded";
import { apiCall } from "../harness/servers-on-nats";
import { waitFor } from "../harness/wait-for";

const RULE_ID = "6f0e1d2c-3b4a-4596-8877-a6b5c4d3e2f1";
const RULE = `title: Dedup canary read
id: ${RULE_ID}
status: test
description: a command line names the dedup canary
author: Vigil tests
tags: [attack.credential_access, attack.t1003.008]
level: high
logsource: { product: linux, category: process_creation }
detection:
  selection:
    CommandLine|contains: dedup-canary
  condition: selection
vigil:
  suppress: { window: 10m, by: [User] }
`;

const MATCHES = 3;
const BASE_US = 1_763_900_000_000_000;

function execLine(index: number, user: string, uid: number, commandLine: string): string {
  const args = commandLine.split(" ");
  return JSON.stringify({
    timestampUs: BASE_US + index * 1000,
    collector: "replay",
    process: {
      pid: 7000 + index,
      ppid: 4100,
      name: "cat",
      executable: "/usr/bin/cat",
      args,
      workingDirectory: "/home/alice",
      uid,
      euid: uid,
      gid: uid,
      egid: uid,
      userName: user,
      startTimeUs: BASE_US + index * 1000 - 10,
      parent: { pid: 4100, name: "bash", executable: "/usr/bin/bash", args: ["-bash"], uid },
    },
    exec: { filename: "/usr/bin/cat", argv: args, result: 0 },
  });
}

let dir: string;
let running: EmbeddedVigil | undefined;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "hubgaps-embedded-dedup-"));
});

afterAll(async () => {
  await running?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test("embedded alert dedup - matches in separate batches make one alert whose count the API shows", async () => {
  const rulesDir = join(dir, "rules");
  const dataDir = join(dir, "data");
  const replay = join(dir, "events.jsonl");
  const configFile = join(dir, "vigil.yml");
  // One rule only: the seed (first start) stores exactly it.
  mkdirSync(rulesDir);
  writeFileSync(join(rulesDir, "dedup-canary.yml"), RULE);
  const lines = [
    ...Array.from({ length: MATCHES }, (_, index) =>
      execLine(index, "alice", 1000, `cat dedup-canary ${index}`),
    ),
    execLine(MATCHES, "bob", 1001, "cat dedup-canary bob"),
    execLine(MATCHES + 1, "alice", 1000, "cat unrelated"),
  ];
  writeFileSync(replay, `${lines.join("\n")}\n`);
  // One event per agent batch, a few per second: the hub gets them one bus batch at a time.
  writeFileSync(
    configFile,
    `hub:\n  rulesDir: ${JSON.stringify(rulesDir)}\nagent:\n  batch: { maxEvents: 1 }\n  replay: { rate: 20 }\n`,
  );
  running = await startEmbedded({
    configFile,
    dataDir,
    apiPort: 0,
    grpcPort: 0,
    collectors: ["replay"],
    replayFiles: [replay],
    logger: silentLogger(),
  });
  const vigil = running;

  const search = async () => {
    const answer = await apiCall(vigil.server, "GET", `/api/v1/alerts?rule=${RULE_ID}&limit=10`);
    expect(answer.status).toBe(200);
    return answer.body as { alerts: EcsDocument[]; total: number };
  };
  const alertOf = (alerts: EcsDocument[], user: string) =>
    alerts.find((alert) => (alert.user as EcsDocument | undefined)?.name === user);
  const countOf = (alert: EcsDocument | undefined) =>
    ((alert?.vigil as EcsDocument | undefined)?.alert as EcsDocument | undefined)?.count;
  await waitFor(
    async () => {
      const { alerts } = await search();
      return countOf(alertOf(alerts, "alice")) === MATCHES && countOf(alertOf(alerts, "bob")) === 1;
    },
    20_000,
    `alice's alert counting ${MATCHES} matches and bob's alert`,
    // Gentle polling: the API rate-limits a client.
    250,
  );
  // The agent sent every event in its own batch, so the count grew in the store, not in one batch.
  expect(vigil.agent.agent.runtimeSettings().batch.maxEvents).toBe(1);

  const { alerts, total } = await search();
  expect(total).toBe(2);
  const alice = alertOf(alerts, "alice") as EcsDocument;
  expect((alice.vigil as EcsDocument).alert).toMatchObject({
    count: MATCHES,
    suppression: { by: ["User"], key: '["alice"]' },
  });
  // last_seen is the latest match's time (the agent rebases the replay onto now, 1 ms apart).
  const lastSeen = Date.parse(((alice.vigil as EcsDocument).alert as EcsDocument).last_seen as string);
  expect(lastSeen).toBeGreaterThan(Date.parse(alice["@timestamp"] as string));
  // The store agrees with the API: two rows for the rule, whatever it was asked.
  expect((await vigil.alertStore.stats()).total).toBe(2);
});
