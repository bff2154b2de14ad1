// Shared helpers for the benchmarks: generated event streams and result lines.
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { processEntityId } from "@vigil/common";
import { BusEventBatch, Event, Hello } from "@vigil/proto";
import { type AgentIdentity, identityFromHello, normalizeBatch } from "@vigil/server";

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
export function writeEventStream(
  path: string,
  templates: Record<string, unknown>[],
  count: number,
  alertingShare: number,
): void {
  const benign = templates.find((template) => {
    const process = template.process as { executable?: string } | undefined;
    return process?.executable === "/usr/bin/ls";
  });
  if (!benign)
    throw new Error("bench needs the ls exec event from the reverse-shell scenario as benign template");
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
  const parts = Object.entries(fields).map(
    ([key, value]) => `${key}=${typeof value === "number" ? formatNumber(value) : value}`,
  );
  process.stdout.write(`${name.padEnd(28)} ${parts.join("  ")}\n`);
}

function formatNumber(value: number): string {
  return Number.isInteger(value) ? String(value) : value.toFixed(2);
}

// ---------------------------------------------------------------------------
// Shared by the per-core benches (hub-evaluate, server-ingest, agent-pipeline).

/** The e2e scenario directory: attack events with reviewed expected alerts. */
export const SCENARIOS_DIR = join(import.meta.dirname, "..", "test", "e2e", "scenarios");

export function scenarioFiles(): string[] {
  return readdirSync(SCENARIOS_DIR)
    .filter((name) => name.endsWith(".jsonl"))
    .sort()
    .map((name) => join(SCENARIOS_DIR, name));
}

/** Scenario lines of the processes their .expected.json says must alert (the attacks). */
export function attackLines(): Record<string, unknown>[] {
  const attacks: Record<string, unknown>[] = [];
  for (const file of scenarioFiles()) {
    const expected = JSON.parse(readFileSync(file.replace(/\.jsonl$/, ".expected.json"), "utf8")) as {
      pid: number;
    }[];
    const pids = new Set(expected.map((alert) => alert.pid));
    for (const line of loadTemplates([file], (path) => readFileSync(path, "utf8"))) {
      if (pids.has((line.process as { pid: number }).pid)) attacks.push(line);
    }
  }
  return attacks;
}

const BENIGN_EXECS: string[][] = [
  ["/usr/bin/ls", "ls", "-la"],
  ["/usr/bin/git", "git", "status"],
  ["/usr/bin/grep", "grep", "-rn", "TODO", "src"],
  ["/usr/bin/cat", "cat", "README.md"],
  ["/usr/bin/make", "make", "-j2", "all"],
  ["/usr/bin/sed", "sed", "-n", "1,20p", "notes.txt"],
  ["/usr/bin/systemctl", "systemctl", "status", "nginx"],
  ["/usr/bin/node", "node", "server.js", "--port", "8080"],
];
const BENIGN_OPENS: { path: string; flags: number; created: boolean }[] = [
  { path: "/etc/hosts", flags: 0x80000, created: false },
  { path: "/etc/ld.so.cache", flags: 0x80000, created: false },
  { path: "/usr/lib/x86_64-linux-gnu/libc.so.6", flags: 0x80000, created: false },
  { path: "/home/alice/src/main.c", flags: 0, created: false },
  { path: "/home/alice/src/build/main.o", flags: 0x241, created: true },
  { path: "/home/alice/.cache/pip/http/selfcheck.json", flags: 0x241, created: false },
];
const BENIGN_CONNECTS: { ip: string; port: number; transport: string }[] = [
  { ip: "151.101.2.132", port: 443, transport: "tcp" },
  { ip: "127.0.0.53", port: 53, transport: "udp" },
  { ip: "10.0.0.12", port: 5432, transport: "tcp" },
  { ip: "93.184.215.14", port: 80, transport: "tcp" },
];

/**
 * `count` agent events in protobuf-JSON form, like a busy host: mostly benign
 * exec / file open / connect (roughly 5:3:2), and every 1/attackShare-th
 * event one of the scenario attack lines (round robin). Every event has its
 * own pid so alerts stay distinct.
 */
export function eventMix(count: number, attackShare = 0.01): Record<string, unknown>[] {
  const attacks = attackLines();
  const base = loadTemplates(scenarioFiles(), (path) => readFileSync(path, "utf8")).find(
    (line) => (line.process as { executable?: string }).executable === "/usr/bin/ls" && "exec" in line,
  );
  if (!base) throw new Error("bench needs the ls exec event of the reverse-shell scenario as a base");
  const every = Math.max(1, Math.round(1 / attackShare));
  const out: Record<string, unknown>[] = [];
  for (let i = 0; i < count; i++) {
    let line: Record<string, unknown>;
    if (i % every === every - 1) {
      line = structuredClone(attacks[Math.floor(i / every) % attacks.length]);
    } else {
      line = structuredClone(base);
      delete line.exec;
      const process = line.process as Record<string, unknown>;
      const kind = i % 10;
      if (kind < 5) {
        const [executable, ...argv] = BENIGN_EXECS[i % BENIGN_EXECS.length];
        process.executable = executable;
        process.name = argv[0];
        process.args = argv;
        line.exec = { filename: executable, argv, result: 0 };
      } else if (kind < 8) {
        const open = BENIGN_OPENS[i % BENIGN_OPENS.length];
        line.fileOpen = { path: open.path, flags: open.flags, mode: 0o644, result: 3, created: open.created };
      } else {
        const connect = BENIGN_CONNECTS[i % BENIGN_CONNECTS.length];
        line.connect = {
          family: "ADDRESS_FAMILY_INET",
          transport: connect.transport,
          destinationIp: connect.ip,
          destinationPort: connect.port,
          result: connect.transport === "tcp" ? -115 : 0,
        };
      }
    }
    (line.process as { pid: number }).pid = 100_000 + i;
    line.timestampUs = 1_763_900_000_000_000 + i * 100;
    out.push(line);
  }
  return out;
}

/** Seconds each measurement runs (VIGIL_BENCH_SECONDS, default 3). */
export function benchSeconds(): number {
  const value = Number(process.env.VIGIL_BENCH_SECONDS ?? 3);
  return Number.isFinite(value) && value > 0 ? value : 3;
}

export interface Measurement {
  /** Units (events, records) per wall-clock second. */
  perSecond: number;
  units: number;
  seconds: number;
  /** Units per second of this process's CPU time (user+system, all threads incl. GC helpers). */
  perCpuSecond: number;
  /** Process CPU time / wall time while measuring (1 = one core busy). */
  cpuShare: number;
}

/**
 * Runs `step` (which processes a chunk and returns how many units it did)
 * for a warm-up period, collects garbage, then for `seconds` of wall time.
 * Single-threaded and synchronous: the rate is a per-core rate.
 */
export function measure(step: () => number, seconds = benchSeconds(), warmupSeconds = 1): Measurement {
  const warmUntil = process.hrtime.bigint() + BigInt(Math.round(warmupSeconds * 1e9));
  while (process.hrtime.bigint() < warmUntil) step();
  forceGc();
  const budget = BigInt(Math.round(seconds * 1e9));
  const cpuBefore = process.cpuUsage();
  const started = process.hrtime.bigint();
  let units = 0;
  let elapsed = 0n;
  do {
    units += step();
    elapsed = process.hrtime.bigint() - started;
  } while (elapsed < budget);
  const cpu = process.cpuUsage(cpuBefore);
  const wallS = Number(elapsed) / 1e9;
  const cpuS = (cpu.user + cpu.system) / 1e6;
  return {
    perSecond: units / wallS,
    units,
    seconds: wallS,
    perCpuSecond: units / cpuS,
    cpuShare: cpuS / wallS,
  };
}

/**
 * The usual fields of a per-core line: wall-clock rate, rate per CPU second
 * (robust when other processes share the cores; counts GC helper threads
 * too), the CPU share, and µs per unit by CPU time.
 */
export function rateFields(m: Measurement, unit = "events"): Record<string, number> {
  return {
    [`${unit}/s`]: Math.round(m.perSecond),
    [`${unit}/cpu_s`]: Math.round(m.perCpuSecond),
    cpu_pct: Math.round(100 * m.cpuShare),
    [`us_per_${unit.replace(/s$/, "")}`]: usPer(m.perCpuSecond),
  };
}

/** rate / target as "0.42x". */
export function vsTarget(rate: number, target: number): string {
  return `${(rate / target).toFixed(2)}x`;
}

/** Microseconds per unit. */
export function usPer(rate: number): number {
  return rate > 0 ? 1e6 / rate : Number.POSITIVE_INFINITY;
}

/** A full GC (exposes gc on demand when node was not started with --expose-gc). */
export function forceGc(): void {
  let gc = (globalThis as { gc?: () => void }).gc;
  if (typeof gc !== "function") {
    setFlagsFromString("--expose-gc");
    gc = runInNewContext("gc") as () => void;
    (globalThis as { gc?: () => void }).gc = gc;
  }
  gc();
  gc();
}

/** What the server would know about the bench agent after its Hello. */
export function benchIdentity(agentId = "bench-agent"): AgentIdentity {
  return identityFromHello(
    Hello.fromPartial({
      agentId,
      hostname: "bench-host",
      osName: "Debian GNU/Linux",
      osVersion: "12",
      kernelRelease: "6.1.0-28-amd64",
      architecture: "x86_64",
      agentVersion: "0.1.0",
      collectors: ["ftrace"],
      ipAddresses: ["10.0.0.5"],
    }),
  );
}

/**
 * Agent events as a production agent sends them: the replay lines, plus the
 * process entity ids its enricher sets on every event (process, parent,
 * grandparent), so the server's fallback that computes them for older agents
 * is not what gets measured.
 */
export function toEvents(lines: Record<string, unknown>[], agentId = benchIdentity().agentId): Event[] {
  return lines.map((line) => {
    const event = Event.fromJSON(line);
    for (const process of [event.process, event.process?.parent, event.process?.grandparent]) {
      if (process && process.entityId === "") {
        process.entityId = processEntityId(agentId, process.pid, process.startTimeUs);
      }
    }
    return event;
  });
}

/** Events normalised by the server's normalizeBatch into bus batches of batchSize (sequence 1, 2, ...). */
export function toBusBatches(identity: AgentIdentity, events: Event[], batchSize = 1000): BusEventBatch[] {
  const batches: BusEventBatch[] = [];
  const receivedUs = 1_763_900_100_000_000;
  for (let start = 0, sequence = 1; start < events.length; start += batchSize, sequence++) {
    const { events: canonical, parents } = normalizeBatch(
      identity,
      sequence,
      events.slice(start, start + batchSize),
      receivedUs,
    );
    batches.push({
      agentId: identity.agentId,
      sequence,
      serverId: "bench-server",
      receivedUs,
      events: canonical,
      host: identity.host,
      agent: identity.agent,
      parents,
    });
  }
  return batches;
}

export function encodeBusBatch(batch: BusEventBatch): Uint8Array {
  return BusEventBatch.encode(batch).finish();
}
