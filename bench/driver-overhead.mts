// What vigil.ko costs the host (issue target: ≤ 5% added time). Boots Debian's
// kernel in QEMU (test/qemu/run-guest.sh -b -s bench: builds the module against
// that kernel's headers) and times, inside the guest, an exec loop (fork +
// execve /bin/true + wait), a loopback TCP connect+accept loop and
// open-for-write loops under a watched and an unwatched prefix, in alternating
// rounds: without the module ("off"), with it and an agent-like reader draining
// /dev/vigil every 10 ms ("on"), and with it loaded but every hook switched off
// ("probes": the cost of the probes alone). Prints per-operation times and the
// overhead ratios per loop: the median over rounds of (time on / time off) − 1,
// and the same for probes.
//
// The guest runs under software emulation (TCG, no KVM here) with
// `-icount shift=1,sleep=off`: guest time advances 2 ns per executed guest
// instruction, so the figures count the instructions the module adds (probes,
// record building, the reader's copying) and do not move with whatever else
// runs on the host. What icount does not see: cache and TLB effects, which on
// real hardware make the added cost somewhat larger. Set
// VIGIL_BENCH_QEMU_ARGS="" to time with the host's wall clock instead (noisy).
//   node bench/driver-overhead.mts [rounds]
// Env: VIGIL_BENCH_EXEC_N, VIGIL_BENCH_CONNECT_N, VIGIL_BENCH_OPEN_N (loop
// lengths), KERNEL (which /boot/vmlinuz-* to boot).
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { report } from "./bench-util.mts";

interface LoopResult {
  op: string;
  label: string;
  n: number;
  ns: number;
}

const ROUNDS = Number(process.argv[2] ?? 3);
const EXEC_N = Number(process.env.VIGIL_BENCH_EXEC_N ?? 300);
const CONNECT_N = Number(process.env.VIGIL_BENCH_CONNECT_N ?? 1000);
const OPEN_N = Number(process.env.VIGIL_BENCH_OPEN_N ?? 5000);
const QEMU_ARGS = process.env.VIGIL_BENCH_QEMU_ARGS ?? "-icount shift=1,sleep=off";
const TARGET_OVERHEAD = 0.05;
/** The agent's default watched prefixes (DEFAULT_WATCHED_PREFIXES), plus the loop's directory. */
const WATCHED = [
  "/etc/",
  "/root/",
  "/home/",
  "/usr/bin/",
  "/usr/lib/",
  "/lib/",
  "/boot/",
  "/tmp/",
  "/dev/shm/",
];

const work = mkdtempSync(join(tmpdir(), "vigil-bench-driver-"));
try {
  const conf = join(work, "bench.conf");
  writeFileSync(conf, `ROUNDS=${ROUNDS} EXEC_N=${EXEC_N} CONNECT_N=${CONNECT_N} OPEN_N=${OPEN_N}\n`);
  const out = join(work, "out");
  const harness = join(import.meta.dirname, "..", "test", "qemu", "run-guest.sh");
  const controls = WATCHED.flatMap((prefix) => ["-c", `watch ${prefix}`]);
  const started = process.hrtime.bigint();
  const run = spawnSync(harness, ["-b", "-o", out, "-s", "bench", "-a", conf, ...controls], {
    encoding: "utf8",
    env: { ...process.env, QEMU_TIMEOUT: process.env.QEMU_TIMEOUT ?? "900", QEMU_ARGS },
  });
  if (run.status !== 0) {
    process.stderr.write(
      `driver-overhead: run-guest.sh failed (${run.status ?? run.signal}):\n${run.stderr}\n`,
    );
    process.exit(1);
  }
  const wallS = Number(process.hrtime.bigint() - started) / 1e9;
  const lines = readFileSync(join(out, "bench.jsonl"), "utf8")
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => JSON.parse(line) as LoopResult & { bytes?: number });
  const loops = lines.filter((line) => line.op !== "drain");
  const drained = lines.filter((line) => line.op === "drain").map((line) => line.bytes ?? 0);
  const rounds = Math.min(
    ...["off", "on", "probes"].map((label) => loops.filter((l) => l.label === label).length / 4),
  );
  if (!Number.isFinite(rounds) || rounds < 1) {
    process.stderr.write(`driver-overhead: the guest produced no complete round:\n${lines.length} lines\n`);
    process.exit(1);
  }

  for (const op of ["exec", "connect", "open", "open-unwatched"]) {
    const of = (label: string) => loops.filter((l) => l.op === op && l.label === label);
    const off = of("off");
    const on = of("on");
    const probes = of("probes");
    const ratios = pairedRatios(on, off);
    const overhead = median(ratios) - 1;
    report(`driver overhead ${op}`, {
      rounds: ratios.length,
      n: off[0].n,
      guest_us_per_op_off: median(off.map((l) => l.ns / l.n / 1000)),
      guest_us_per_op_on: median(on.map((l) => l.ns / l.n / 1000)),
      overhead_pct: overhead * 100,
      spread_pct: `${((Math.min(...ratios) - 1) * 100).toFixed(1)}..${((Math.max(...ratios) - 1) * 100).toFixed(1)}`,
      probes_only_pct: (median(pairedRatios(probes, off)) - 1) * 100,
      vs_target: overhead <= TARGET_OVERHEAD ? "met" : `${(overhead / TARGET_OVERHEAD).toFixed(1)}x_target`,
    });
  }
  report("driver overhead guest", {
    rounds,
    record_bytes_per_round: median(drained),
    wall_s: wallS,
    kernel: process.env.KERNEL ?? "newest-with-headers",
    clock: QEMU_ARGS.includes("icount") ? "icount(2ns/insn)" : "wall",
  });
} finally {
  rmSync(work, { recursive: true, force: true });
}

/** Per round: time with / time without (rounds alternate, so each pair ran back to back). */
function pairedRatios(loaded: LoopResult[], baseline: LoopResult[]): number[] {
  const pairs = Math.min(loaded.length, baseline.length);
  const ratios: number[] = [];
  for (let i = 0; i < pairs; i++) ratios.push(loaded[i].ns / baseline[i].ns);
  return ratios;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}
