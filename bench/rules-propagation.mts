// Rule changes through the API to a running hub, on a real nats-server -js:
//   change→hub installed     POST /api/v1/rules (validate, store version n+1,
//                            CAS pointer) until the hub evaluates version n+1
//                            (KV watch, read, compile the whole set, swap);
//                            p50/p99 over sequential changes
//   concurrent changes       changes/s with 8 requests in flight on two servers
//                            (each lost compare-and-set is a re-read + retry)
// Figures only; nothing fails on a slow one.
//   npm run build && node bench/rules-propagation.mts [changes]
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Bus, connectNatsBus, silentLogger } from "@vigil/common";
import { hubConfigSchema, startHub } from "@vigil/hub";
import { serverConfigSchema, startVigilServer, type VigilServer } from "@vigil/server";
import { startNatsServer } from "../test/harness/nats-server.ts";
import { report } from "./bench-util.mts";

const CHANGES = Number(process.argv[2] ?? 100);
const TOKEN = "bench-rules-admin-token-0123456789";
const logger = silentLogger();

function ruleYaml(index: number): string {
  const id = `b0b0b0b0-0000-4000-8000-${String(index).padStart(12, "0")}`;
  return `title: Bench rule ${index}
id: ${id}
status: test
description: propagation bench
author: Vigil bench
level: low
logsource: { product: linux, category: process_creation }
detection:
  selection:
    CommandLine|contains: bench-needle-${index}
  condition: selection
`;
}

async function create(server: VigilServer, index: number): Promise<number> {
  const response = await fetch(`http://127.0.0.1:${server.apiPort}/api/v1/rules`, {
    method: "POST",
    headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
    body: JSON.stringify({ yaml: ruleYaml(index) }),
  });
  const body = (await response.json()) as { version?: number; message?: string };
  if (response.status !== 201 || body.version === undefined)
    throw new Error(`create ${index}: ${body.message}`);
  return body.version;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))];
}

const nats = await startNatsServer();
const dataDir = mkdtempSync(join(tmpdir(), "rules-bench-"));
const buses: Bus[] = [];
const connect = async (name: string) => {
  const bus = await connectNatsBus({ servers: [nats.url], name, logger });
  buses.push(bus);
  return bus;
};
const servers: VigilServer[] = [];
for (const serverId of ["bench-a", "bench-b"]) {
  const config = serverConfigSchema.parse({
    serverId,
    grpc: { port: 0, agentToken: "bench-rules-agent-token-0123456789" },
    api: { port: 0, token: TOKEN, rateLimit: { max: 1_000_000 } },
  });
  servers.push(await startVigilServer({ config, bus: await connect(serverId), logger }));
}
const hub = await startHub(
  hubConfigSchema.parse({ hubId: "bench-hub", alertStorePath: join(dataDir, "alerts.db") }),
  await connect("bench-hub"),
  logger,
);
try {
  const latencies: number[] = [];
  for (let index = 0; index < CHANGES; index++) {
    const started = performance.now();
    const version = await create(servers[0], index);
    while ((hub.rulesets?.version ?? 0) < version) await new Promise((resolve) => setImmediate(resolve));
    latencies.push(performance.now() - started);
  }
  latencies.sort((a, b) => a - b);
  report("rules change→hub installed", {
    changes: CHANGES,
    p50_ms: Number(percentile(latencies, 50).toFixed(1)),
    p99_ms: Number(percentile(latencies, 99).toFixed(1)),
    final_rules: hub.service.health().checks.rules,
  });

  const inFlight = 8;
  let next = CHANGES;
  const last = CHANGES * 2;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: inFlight }, async (_, worker) => {
      while (next < last) await create(servers[worker % 2], next++);
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  report("rules concurrent changes", {
    changes: CHANGES,
    in_flight: inFlight,
    "changes/s": Number((CHANGES / seconds).toFixed(1)),
  });
} finally {
  await hub.stop();
  for (const server of servers) await server.close(0);
  for (const bus of buses) await bus.close();
  await nats.stop();
  rmSync(dataDir, { recursive: true, force: true });
}
