// The agent's on-disk spool (agent/src/spool): how fast batches go in and come
// back out, on this machine's disk, per fsync policy.
//   write   append 1000-event batches (a busy host's event mix) until ~64 MiB,
//           segment 8 MiB, bound large enough that nothing is evicted; the
//           timer stops after close() (final fsync). "batch": an fsync after
//           every batch, coalesced, off the event loop; "interval": every 1 s.
//   recover reopen the spool: scan and CRC-check every segment.
//   read    send every batch from disk (read, CRC, protobuf decode) and ack it.
//   npm run build && node bench/spool-throughput.mts [MiB]
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { silentLogger } from "@vigil/common";
import { Event } from "@vigil/proto";
import { DiskSpool, spoolFileBytes } from "../agent/dist/spool/disk-spool.js";
import { eventMix, report } from "./bench-util.mts";

const TARGET_MIB = Number(process.argv[2] ?? 64);
const BATCH = 1000;
const logger = silentLogger();
const events = eventMix(20_000, 0.01).map((line) => Event.fromJSON(line));
const batches = Array.from({ length: events.length / BATCH }, (_, i) =>
  events.slice(i * BATCH, (i + 1) * BATCH),
);

type Policy = "batch" | "interval" | "never";

function open(dir: string, fsync: Policy): DiskSpool {
  return new DiskSpool({
    dir,
    maxBytes: 4 * TARGET_MIB * 1024 * 1024,
    segmentBytes: 8 * 1024 * 1024,
    fsync,
    fsyncIntervalMs: 1000,
    logger,
  });
}

const seconds = (from: bigint) => Number(process.hrtime.bigint() - from) / 1e9;
const mib = (bytes: number) => bytes / (1024 * 1024);

async function run(fsync: Policy): Promise<void> {
  const dir = join(mkdtempSync(join(tmpdir(), "vigil-spool-bench-")), "spool");
  try {
    let spool = open(dir, fsync);
    let appended = 0;
    const writeStart = process.hrtime.bigint();
    let cpu = process.cpuUsage();
    while (spool.bytes() < TARGET_MIB * 1024 * 1024) {
      spool.append(batches[appended % batches.length]);
      appended++;
      // Let the fsync callbacks run, as the agent's event loop would between batches.
      if (appended % 16 === 0) await new Promise((done) => setImmediate(done));
    }
    spool.close();
    const writeS = seconds(writeStart);
    const writeCpu = process.cpuUsage(cpu);
    const bytes = spoolFileBytes(dir);
    report(`spool write (fsync ${fsync})`, {
      "MB/s": Math.round(mib(bytes) / writeS),
      "batches/s": Math.round(appended / writeS),
      "events/s": Math.round((appended * BATCH) / writeS),
      cpu_pct: Math.round(((writeCpu.user + writeCpu.system) / 1e6 / writeS) * 100),
      MiB: Math.round(mib(bytes)),
    });
    if (fsync !== "batch") return;

    const recoverStart = process.hrtime.bigint();
    spool = open(dir, "never");
    const recoverS = seconds(recoverStart);
    report("spool recover (scan+crc)", { "MB/s": Math.round(mib(bytes) / recoverS), batches: spool.size() });

    const readStart = process.hrtime.bigint();
    cpu = process.cpuUsage();
    let read = 0;
    for (let batch = spool.takeNextToSend(16); batch; batch = spool.takeNextToSend(16)) {
      spool.acknowledge(batch.sequence);
      read++;
    }
    const readS = seconds(readStart);
    const readCpu = process.cpuUsage(cpu);
    report("spool read (read+crc+decode)", {
      "MB/s": Math.round(mib(bytes) / readS),
      "batches/s": Math.round(read / readS),
      "events/s": Math.round((read * BATCH) / readS),
      cpu_pct: Math.round(((readCpu.user + readCpu.system) / 1e6 / readS) * 100),
    });
    spool.close();
  } finally {
    rmSync(join(dir, ".."), { recursive: true, force: true });
  }
}

for (const policy of ["never", "interval", "batch"] as const) await run(policy);
