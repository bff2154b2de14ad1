// Shared helpers for the benchmarks: generated event streams and result lines.
import { writeFileSync } from "node:fs";

export interface EventTemplate {
  line: Record<string, unknown>;
  alerting: boolean;
}

/** Reads the e2e scenario files as templates; the benches multiply them with fresh pids. */
export function loadTemplates(files: string[], read: (file: string) => string): Record<string, unknown>[] {
  const templates: Record<string, unknown>[] = [];
  for (const file of files) {
    for (const line of read(file).split("\n")) {
      if (line.trim() && !line.startsWith("#")) templates.push(JSON.parse(line) as Record<string, unknown>);
    }
  }
  return templates;
}

/**
 * Writes `count` events to a JSON-lines file: mostly benign process events
 * (like a busy host) with every template replayed in turn so a share of them
 * fire rules. pids are unique so every alert is distinct.
 */
export function writeEventStream(path: string, templates: Record<string, unknown>[], count: number, alertingShare: number): void {
  const benign = templates.find((template) => {
    const process = template.process as { executable?: string } | undefined;
    return process?.executable === "/usr/bin/ls";
  });
  if (!benign) throw new Error("bench needs the ls exec event from the reverse-shell scenario as benign template");
  const lines: string[] = [];
  const every = Math.max(1, Math.round(1 / alertingShare));
  for (let i = 0; i < count; i++) {
    const template = i % every === 0 ? templates[(i / every) % templates.length] : benign;
    const copy = structuredClone(template);
    (copy.process as { pid: number }).pid = 100_000 + i;
    lines.push(JSON.stringify(copy));
  }
  writeFileSync(path, `${lines.join("\n")}\n`);
}

export function report(name: string, fields: Record<string, string | number>): void {
  const parts = Object.entries(fields).map(([key, value]) => `${key}=${typeof value === "number" ? formatNumber(value) : value}`);
  process.stdout.write(`${name.padEnd(28)} ${parts.join("  ")}\n`);
}

function formatNumber(value: number): string {
  return Number.isInteger(value) ? String(value) : value.toFixed(2);
}
