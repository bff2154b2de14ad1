// Runs every bench in sequence, each in its own node process (a fresh heap and
// JIT per bench), passes their lines through, then prints one summary line per
// bench. Rates and ratios only: nothing here fails on a slow figure; the exit
// code is non-zero only when a bench could not run.
//   npm run bench                      (builds first)
//   node bench/run-all.mts             (against the current build)
// VIGIL_BENCH_SECONDS sets the length of each measurement (default here: 2).
import { spawn } from "node:child_process";
import { join } from "node:path";

interface Headline {
  label: string;
  line: string;
  keys: string[];
}

interface BenchSpec {
  file: string;
  args: string[];
  headlines: Headline[];
}

const BENCHES: BenchSpec[] = [
  {
    file: "hub-evaluate.mts",
    args: [],
    headlines: [
      { label: "match", line: "hub ruleset match only", keys: ["events/cpu_s", "vs_target"] },
      {
        label: "decode+ecs+match+alert",
        line: "hub decode+ecs+match+alert",
        keys: ["events/cpu_s", "vs_target"],
      },
    ],
  },
  {
    file: "hub-alerts.mts",
    args: ["10", "20000"],
    headlines: [
      { label: "ES bulk", line: "hub alerts→ES bulk", keys: ["alerts/s", "MB/s"] },
      {
        label: "event→alert@10k/s",
        line: "hub event→alert latency (nats)",
        keys: ["p50_ms", "p99_ms", "vs_target"],
      },
    ],
  },
  {
    file: "correlation.mts",
    args: [],
    headlines: [
      { label: "spread", line: "correlation updates spread", keys: ["updates/s", "updates/cpu_s"] },
      { label: "hot window", line: "correlation updates hot window", keys: ["updates/s", "conflicts_pct"] },
    ],
  },
  {
    file: "server-ingest.mts",
    args: [],
    headlines: [
      { label: "cpu path", line: "server decode+normalize+enc", keys: ["events/cpu_s", "vs_target"] },
      { label: "gRPC→memory", line: "server gRPC→memory bus", keys: ["events/server_cpu_s", "vs_target"] },
      {
        label: "gRPC→JetStream",
        line: "server gRPC→nats JetStream",
        keys: ["events/server_cpu_s", "vs_target"],
      },
      { label: "idle stream", line: "server idle streams", keys: ["rss_KB_per_stream"] },
    ],
  },
  {
    file: "agent-pipeline.mts",
    args: [],
    headlines: [
      { label: "replay→encode", line: "agent decode→batch→encode", keys: ["events/cpu_s", "vs_target"] },
      { label: "ftrace", line: "agent ftrace page+fields", keys: ["records/cpu_s", "vs_target"] },
      {
        label: "driver→enrich→encode",
        line: "agent driver→enrich→encode",
        keys: ["records/cpu_s", "vs_target"],
      },
    ],
  },
  {
    file: "agent-rss.mts",
    args: ["30", "10000"],
    headlines: [
      {
        label: "rss@10k/s",
        line: "agent rss at steady rate",
        keys: ["events/s", "steady_MB", "peak_MB", "hwm_MB", "vs_target"],
      },
    ],
  },
  {
    file: "spool-throughput.mts",
    args: [],
    headlines: [
      { label: "write", line: "spool write (fsync batch)", keys: ["MB/s", "batches/s"] },
      { label: "read", line: "spool read (read+crc+decode)", keys: ["MB/s", "batches/s"] },
    ],
  },
  {
    file: "driver-decode.mts",
    args: [],
    headlines: [
      { label: "decode", line: "agent driver decode", keys: ["records/cpu_s", "vs_target"] },
      { label: "decode+map", line: "agent driver decode+map", keys: ["records/cpu_s", "vs_target"] },
    ],
  },
  {
    file: "driver-overhead.mts",
    args: [],
    headlines: [
      { label: "exec", line: "driver overhead exec", keys: ["overhead_pct", "vs_target"] },
      { label: "connect", line: "driver overhead connect", keys: ["overhead_pct", "vs_target"] },
      { label: "open", line: "driver overhead open", keys: ["overhead_pct"] },
    ],
  },
  {
    file: "e2e-throughput.mts",
    args: ["50000"],
    headlines: [
      { label: "memory", line: "e2e replay→alert (memory)", keys: ["events/s", "alerts"] },
      { label: "nats", line: "e2e replay→alert (nats)", keys: ["events/s", "alerts"] },
    ],
  },
  {
    file: "fleet-registry.mts",
    args: ["2000"],
    headlines: [
      { label: "connects", line: "fleet connect storm", keys: ["records/s"] },
      { label: "heartbeats", line: "fleet heartbeat round", keys: ["writes/s"] },
      { label: "query", line: "fleet query (filter+page)", keys: ["us_per_record"] },
    ],
  },
  {
    file: "rules-propagation.mts",
    args: ["50"],
    headlines: [
      { label: "change→hub", line: "rules change→hub installed", keys: ["p50_ms", "p99_ms"] },
      { label: "concurrent", line: "rules concurrent changes", keys: ["changes/s"] },
    ],
  },
  {
    // 2,000 agents here to keep `npm run bench` short; the README's figures are
    // from `node --expose-gc bench/fleet-sim.mts 10000 10 2000` and `1000 50 2000`.
    file: "fleet-sim.mts",
    args: ["2000", "10", "1000"],
    headlines: [
      { label: "streams", line: "fleet-sim streams", keys: ["streams_reached", "rss_KB_per_stream"] },
      {
        label: "ingest",
        line: "fleet-sim ingest (1 server)",
        keys: ["events/server_cpu_s", "ack_p50_ms", "ack_p99_ms"],
      },
      { label: "failover", line: "fleet-sim 2 servers/Consul", keys: ["failover_seconds", "events_lost"] },
    ],
  },
];

const NODE_FLAGS = ["--disable-warning=MODULE_TYPELESS_PACKAGE_JSON", "--expose-gc"];

interface Outcome {
  code: number | null;
  seconds: number;
  lines: string[];
}

function run(spec: BenchSpec): Promise<Outcome> {
  const started = process.hrtime.bigint();
  const child = spawn(process.execPath, [...NODE_FLAGS, join(import.meta.dirname, spec.file), ...spec.args], {
    stdio: ["ignore", "pipe", "inherit"],
    env: { ...process.env, VIGIL_BENCH_SECONDS: process.env.VIGIL_BENCH_SECONDS ?? "2" },
  });
  const lines: string[] = [];
  let rest = "";
  child.stdout.setEncoding("utf8");
  child.stdout.on("data", (chunk: string) => {
    process.stdout.write(chunk);
    const parts = (rest + chunk).split("\n");
    rest = parts.pop() ?? "";
    lines.push(...parts);
  });
  return new Promise((resolve) => {
    child.once("close", (code) => {
      if (rest) lines.push(rest);
      resolve({ code, seconds: Number(process.hrtime.bigint() - started) / 1e9, lines });
    });
  });
}

/** A report() line: "<name>  key=value  key=value". */
function parseLine(line: string): { name: string; fields: Map<string, string> } {
  const tokens = line.trim().split(/\s+/);
  const first = tokens.findIndex((token) => token.includes("="));
  const name = (first < 0 ? tokens : tokens.slice(0, first)).join(" ");
  const fields = new Map<string, string>();
  if (first >= 0) {
    for (const token of tokens.slice(first)) {
      const at = token.indexOf("=");
      if (at > 0) fields.set(token.slice(0, at), token.slice(at + 1));
    }
  }
  return { name, fields };
}

function summarise(spec: BenchSpec, outcome: Outcome): string {
  const parsed = outcome.lines.map(parseLine);
  const parts = spec.headlines.map((headline) => {
    const found = parsed.find((line) => line.name === headline.line);
    if (!found) {
      const skipped = parsed.find(
        (line) => line.name.startsWith(headline.line) && line.name.includes("skipped"),
      );
      return `${headline.label}: ${skipped ? "skipped" : "n/a"}`;
    }
    return `${headline.label}: ${headline.keys.map((key) => `${key}=${found.fields.get(key) ?? "n/a"}`).join(" ")}`;
  });
  const status = outcome.code === 0 ? "ok" : `failed(exit ${outcome.code})`;
  return `${spec.file.replace(/\.mts$/, "").padEnd(20)} status=${status}  seconds=${outcome.seconds.toFixed(1)}  ${parts.join(" | ")}`;
}

const summaries: string[] = [];
let failed = false;
const started = process.hrtime.bigint();
for (const spec of BENCHES) {
  process.stdout.write(`\n== ${spec.file} ${spec.args.join(" ")}\n`);
  const outcome = await run(spec);
  if (outcome.code !== 0) failed = true;
  summaries.push(summarise(spec, outcome));
}
const totalS = Number(process.hrtime.bigint() - started) / 1e9;
process.stdout.write(
  `\n== summary (${totalS.toFixed(1)} s, VIGIL_BENCH_SECONDS=${process.env.VIGIL_BENCH_SECONDS ?? "2"})\n`,
);
for (const line of summaries) process.stdout.write(`${line}\n`);
if (failed) process.exitCode = 1;
