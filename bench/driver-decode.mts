// The agent's side of the kernel driver, per core: decoding /dev/vigil records
// (DriverRecordDecoder) and mapping them onto the agent's events
// (mapDriverRecord), over a stream captured from vigil.ko in QEMU
// (test/fixtures/driver/stream.bin), fed in 64 KiB reads the way the driver
// collector reads the device. Target (DESIGN.md §4): ≥ 100k records/s per core.
//   npm run build && node bench/driver-decode.mts [seconds-per-measurement]
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { DriverRecordDecoder } from "../agent/dist/collectors/driver/record-decoder.js";
import { mapDriverRecord } from "../agent/dist/collectors/driver/record-mapper.js";
import { benchSeconds, measure, rateFields, report, vsTarget } from "./bench-util.mts";

const TARGET = 100_000;
const SECONDS = Number(process.argv[2] ?? benchSeconds());
const READ_BYTES = 64 * 1024;
const FIXTURE = join(import.meta.dirname, "..", "test", "fixtures", "driver", "stream.bin");

// The capture repeated to ~4 MiB so reads cut records at every kind of boundary.
const capture = readFileSync(FIXTURE);
const check = DriverRecordDecoder.decodeAll(capture);
if (check.counters.errors > 0 || check.records.length === 0) {
  process.stderr.write(
    `driver-decode: ${FIXTURE} does not decode cleanly: ${JSON.stringify(check.counters)}\n`,
  );
  process.exit(1);
}
const copies = Math.max(1, Math.ceil((4 << 20) / capture.length));
const stream = Buffer.concat(Array.from({ length: copies }, () => capture));
const recordsPerPass = check.records.length * copies;
let sink = 0;

function pass(onRecord: (record: ReturnType<DriverRecordDecoder["push"]>[number]) => void): number {
  const decoder = new DriverRecordDecoder();
  for (let offset = 0; offset < stream.length; offset += READ_BYTES) {
    for (const record of decoder.push(stream.subarray(offset, offset + READ_BYTES))) onRecord(record);
  }
  return decoder.counters.records;
}

const decodeOnly = measure(
  () =>
    pass((record) => {
      sink += record.header.size;
    }),
  SECONDS,
);
report("agent driver decode", {
  ...rateFields(decodeOnly, "records"),
  "MB/cpu_s": Math.round(((decodeOnly.perCpuSecond / recordsPerPass) * stream.length) / 1e6),
  bytes_per_record: Math.round(capture.length / check.records.length),
  vs_target: vsTarget(decodeOnly.perCpuSecond, TARGET),
});

const decodeAndMap = measure(
  () =>
    pass((record) => {
      const mapped = mapDriverRecord(record);
      sink += mapped.kind === "event" ? 1 : 2;
    }),
  SECONDS,
);
report("agent driver decode+map", {
  ...rateFields(decodeAndMap, "records"),
  vs_target: vsTarget(decodeAndMap.perCpuSecond, TARGET),
});

if (sink < 0) process.stdout.write("unreachable\n"); // keeps the measured work observable
