// Builders shared by the engine's unit tests (not part of the public face).

import YAML from "yaml";
import { compileRule } from "./compile-rule";
import type { CompiledRule, EcsDocument, LogsourceCategory } from "./types";

export const TEST_RULE_ID = "0b4bdbd6-3c3e-4d89-9d5e-6b0f3c1c2a11";

export function ruleYaml(detection: unknown, overrides: Record<string, unknown> = {}): string {
  return YAML.stringify({
    title: "Test rule",
    id: TEST_RULE_ID,
    status: "test",
    level: "medium",
    logsource: { product: "linux", category: "process_creation" },
    detection,
    ...overrides,
  });
}

export function compileDetection(
  detection: unknown,
  category: LogsourceCategory = "process_creation",
): CompiledRule {
  return compileRule(ruleYaml(detection, { logsource: { product: "linux", category } }), "test.yml");
}

/** A process_creation document with the given process fields. */
export function execEvent(
  process: Record<string, unknown>,
  extra: Record<string, unknown> = {},
): EcsDocument {
  return {
    "@timestamp": "2025-01-01T00:00:00.000Z",
    event: {
      id: "e1",
      kind: "event",
      category: ["process"],
      type: ["start"],
      action: "exec",
      module: "vigil",
    },
    host: { id: "h1", name: "web-1" },
    process: { pid: 4242, ...process },
    user: { id: "1000", name: "alice" },
    ...extra,
  };
}

export function connectEvent(fields: Record<string, unknown>): EcsDocument {
  return {
    "@timestamp": "2025-01-01T00:00:00.000Z",
    event: {
      id: "e2",
      kind: "event",
      category: ["network"],
      type: ["connection", "start"],
      action: "connect",
      module: "vigil",
    },
    process: { pid: 4242, executable: "/usr/bin/bash", name: "bash" },
    network: { transport: "tcp", type: "ipv4", direction: "egress" },
    ...fields,
  };
}
