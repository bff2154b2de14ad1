// The alert stage as startHub assembles it, on a real nats-server: a rule with
// vigil.suppress and vigil.output from a rules directory, the Elasticsearch
// sink (loopback double) and a webhook notifier (loopback receiver). Matches
// of one key within the window make one alert with a count — in ES and in the
// one chat message — and a second key makes a second alert.

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { EcsDocument } from "@vigil/common";
import type { CanonicalEvent } from "@vigil/proto";
import { busExecEvent } from "../fixtures/bus-exec-event";
import { commandLineRule } from "../fixtures/process-rule";
import { HubOnNats, publishBatch } from "../harness/hub-on-nats";
import { waitFor } from "../harness/wait-for";

const RULE = `${commandLineRule("/etc/shadow", {
  id: "2b7e5f0c-6d1a-4c8e-9f3b-5a4d2c1e0f99",
  title: "Shadow file read",
  tags: ["attack.credential-access", "attack.t1003.008"],
})}vigil:
  output: "{User} read the shadow file with {Image}"
  suppress: { window: 10m, by: [User] }
`;

function execEvent(index: number, user: string): CanonicalEvent {
  return busExecEvent({
    id: `agent-1:1:${index}`,
    timestampUs: Date.now() * 1000 + index,
    pid: 500 + index,
    commandLine: `cat /etc/shadow # ${index}`,
    args: ["cat", "/etc/shadow"],
    user: { id: user === "root" ? "0" : "1000", name: user },
  });
}

describe("alerts - suppression and a webhook through startHub (real NATS)", () => {
  let stack: HubOnNats;
  let receiver: Server;
  let dir: string;
  const messages: Array<{ text: string; blocks: unknown[] }> = [];

  beforeAll(async () => {
    stack = await HubOnNats.start({ elasticsearch: true });
    receiver = createServer((request, response) => {
      let body = "";
      request.on("data", (chunk) => {
        body += chunk;
      });
      request.on("end", () => {
        messages.push(JSON.parse(body));
        response.writeHead(200).end("ok");
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
    stack.closeWith(async () => {
      receiver.closeAllConnections();
      await new Promise((resolve) => receiver.close(resolve));
    });
    dir = mkdtempSync(join(tmpdir(), "alerts-suppress-"));
    writeFileSync(join(dir, "shadow.yml"), RULE);
  });
  afterAll(async () => {
    await stack.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test("three reads by alice make one alert counting 3 (in ES and in the chat message); bob's read is its own alert", async () => {
    const { port } = receiver.address() as AddressInfo;
    await stack.startHub({
      hubId: "alerts-hub",
      rulesDir: dir,
      watchRulesets: false,
      elasticsearch: { maxRetries: 1 },
      notify: {
        webhooks: [{ name: "soc", url: `http://127.0.0.1:${port}/hooks/secret`, minLevel: "high" }],
      },
    });
    const server = await stack.connect("server");
    const publish = (sequence: number, events: CanonicalEvent[]) =>
      publishBatch(server, { agentId: "agent-1", hostName: "db-01", sequence, events });
    await publish(1, [execEvent(0, "alice"), execEvent(1, "alice")]);
    await waitFor(() => messages.length === 1, 10_000, "the first chat message");
    await publish(2, [execEvent(2, "alice"), execEvent(3, "bob")]);
    await waitFor(() => messages.length === 2, 10_000, "bob's chat message");

    const stored = () => stack.es.documents("vigil-alerts");
    await waitFor(
      () => {
        const alice = stored().find((document) => (document.user as EcsDocument).name === "alice");
        return ((alice?.vigil as EcsDocument | undefined)?.alert as EcsDocument | undefined)?.count === 3;
      },
      10_000,
      "alice's alert counting all three reads",
    );
    expect(
      stored()
        .map((document) => document.message)
        .sort(),
    ).toEqual(["alice read the shadow file with /usr/bin/cat", "bob read the shadow file with /usr/bin/cat"]);
    const alice = stored().find((document) => (document.user as EcsDocument).name === "alice") as EcsDocument;
    expect((alice.vigil as EcsDocument).alert).toMatchObject({
      level: "high",
      suppression: { by: ["User"], key: '["alice"]', window: "10m", window_ms: 600_000 },
    });
    // The first message went out with the batch's own count (2): the webhook sees each alert once.
    expect(messages.map((message) => message.text)).toEqual([
      "[HIGH] Shadow file read on db-01",
      "[HIGH] Shadow file read on db-01",
    ]);
    expect(JSON.stringify(messages[0]?.blocks)).toContain("*Occurrences*\\n2");
    expect(JSON.stringify(messages[0]?.blocks)).toContain("alice read the shadow file with /usr/bin/cat");
  });
});
