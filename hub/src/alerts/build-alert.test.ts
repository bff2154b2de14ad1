import type { EcsDocument } from "@vigil/common";
import { compileRule } from "../sigma";
import { alertId, buildAlert, buildCorrelationAlert, MAX_CORRELATION_EVENTS } from "./build-alert";

const RULE = `
title: Web server spawns a shell
id: 3d1c7e0a-91f2-4b8e-8a57-2c4d6e8f0a13
status: stable
description: a shell whose parent is a web server
author: Vigil
references: [https://attack.mitre.org/techniques/T1505/003/]
tags: [attack.persistence, attack.execution, attack.t1505.003, attack.t1059.004]
level: critical
logsource: { product: linux, category: process_creation }
detection:
  selection:
    Image|endswith: /bash
  condition: selection
`;

const compiled = compileRule(RULE, "web-shell.yml");
/** As SigmaRuleEvaluator hands it over. */
const rule = { ...compiled, name: compiled.title, version: "3" };
const created = new Date("2026-11-23T12:00:01.000Z");

function execDocument(id: string, commandLine = "bash -c id"): EcsDocument {
  return {
    "@timestamp": "2026-11-23T12:00:00.000Z",
    event: { id, kind: "event", category: ["process"], type: ["start"], action: "exec" },
    host: { id: "h-1", name: "web-01", os: { family: "debian" } },
    agent: { id: "agent-1", type: "vigil-agent", version: "0.1.0" },
    user: { id: "33", name: "www-data" },
    process: {
      pid: 4242,
      executable: "/usr/bin/bash",
      command_line: commandLine,
      parent: {
        pid: 4000,
        executable: "/usr/sbin/nginx",
        command_line: "nginx: worker process",
        parent: { pid: 1, executable: "/usr/sbin/nginx", command_line: "nginx: master process" },
      },
    },
    file: { path: "/var/www/html/shell.php" },
    destination: { ip: "203.0.113.7", port: 4444 },
  };
}

describe("build-alert", () => {
  test("an ECS alert: kind, severity, rule, threat (techniques and tactics), the event's context with ancestry", () => {
    const alert = buildAlert(rule, execDocument("agent-1:7:3"), created);
    expect(alert.id).toBe(alertId(rule.id, "agent-1:7:3"));
    expect(alert.timestampUs).toBe(Date.parse("2026-11-23T12:00:00.000Z") * 1000);
    const document = alert.document;
    expect(document).toMatchObject({
      "@timestamp": "2026-11-23T12:00:00.000Z",
      event: {
        kind: "alert",
        id: alert.id,
        severity: 99,
        created: created.toISOString(),
        category: ["process"],
      },
      rule: {
        id: rule.id,
        name: "Web server spawns a shell",
        ruleset: "vigil",
        reference: ["https://attack.mitre.org/techniques/T1505/003/"],
      },
      threat: {
        framework: "MITRE ATT&CK",
        technique: [
          { id: "T1505.003", reference: "https://attack.mitre.org/techniques/T1505/003/" },
          { id: "T1059.004", reference: "https://attack.mitre.org/techniques/T1059/004/" },
        ],
        tactic: { id: ["TA0003", "TA0002"], name: ["Persistence", "Execution"] },
      },
      host: { id: "h-1", name: "web-01" },
      agent: { id: "agent-1" },
      user: { name: "www-data" },
      file: { path: "/var/www/html/shell.php" },
      destination: { ip: "203.0.113.7", port: 4444 },
      vigil: { alert: { level: "critical" }, event_id: "agent-1:7:3" },
    });
    expect((document.rule as EcsDocument).version).toBe("3");
    const process = document.process as EcsDocument;
    const parent = process.parent as EcsDocument;
    expect(parent.executable).toBe("/usr/sbin/nginx");
    expect((parent.parent as EcsDocument).command_line).toBe("nginx: master process");
    expect(String(document.message)).toContain("Web server spawns a shell");
  });

  test("the id is stable: same rule and event, same id; another event, another id", () => {
    const first = buildAlert(rule, execDocument("agent-1:7:3"), created);
    const again = buildAlert(rule, execDocument("agent-1:7:3", "other"), new Date());
    const other = buildAlert(rule, execDocument("agent-1:7:4"), created);
    expect(again.id).toBe(first.id);
    expect(other.id).not.toBe(first.id);
    expect(first.id).toMatch(/^[A-Za-z0-9_-]{27}$/);
  });

  test("an output template becomes the message; a suppression is recorded for the dedup stage", () => {
    const withExtensions = {
      ...rule,
      output: {
        template: "{User} ran {Image}",
        fields: ["user.name"],
        render: (doc: EcsDocument) => `${(doc.user as EcsDocument).name} ran a shell`,
      },
      suppress: {
        window: "10m",
        windowMs: 600_000,
        by: ["User"],
        paths: ["user.name"],
        key: () => '["www-data"]',
      },
    };
    const alert = buildAlert(withExtensions, execDocument("agent-1:1:1"), created);
    expect(alert.document.message).toBe("www-data ran a shell");
    expect((alert.document.vigil as EcsDocument).alert).toEqual({
      level: "critical",
      suppression: { by: ["User"], key: '["www-data"]', window: "10m", window_ms: 600_000 },
    });
  });

  test("a correlation alert: id from the firing, context from the latest event, the contributing events kept", () => {
    const events = Array.from({ length: 14 }, (_, index) =>
      execDocument(`agent-1:2:${index}`, `ssh try ${index}`),
    );
    const trigger = { firingId: "h-1:2026-11-23T12:00", events, count: 14 };
    const alert = buildCorrelationAlert(rule, trigger, created);
    expect(alert.id).toBe(alertId(rule.id, "correlation:h-1:2026-11-23T12:00"));
    expect(buildCorrelationAlert(rule, { ...trigger, events: events.slice(0, 5) }, created).id).toBe(
      alert.id,
    );
    expect((alert.document.process as EcsDocument).command_line).toBe("ssh try 13");
    const correlation = (alert.document.vigil as EcsDocument).correlation as EcsDocument;
    expect(correlation.count).toBe(14);
    expect(correlation.event_ids).toEqual(events.map((_, index) => `agent-1:2:${index}`));
    expect((correlation.events as EcsDocument[]).length).toBe(MAX_CORRELATION_EVENTS);
    expect((alert.document.vigil as EcsDocument).event_id).toBe("agent-1:2:13");
  });

  test("a correlation alert from event ids only still has a time and the ids", () => {
    const alert = buildCorrelationAlert(rule, { firingId: "k", events: ["e1", "e2"] }, created);
    expect(alert.document["@timestamp"]).toBe(created.toISOString());
    expect((alert.document.vigil as EcsDocument).correlation).toMatchObject({
      count: 2,
      event_ids: ["e1", "e2"],
      events: [],
    });
  });
});
