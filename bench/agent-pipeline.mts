// Agent pipeline per core. Target (DESIGN.md §4): ≥ 100k records/s decoded,
// enriched and encoded per core.
//   replay decode             what ReplayCollector does per line: JSON.parse +
//                             Event.fromJSON (a busy host's mix, ~1% attacks)
//   batch+encode              EventBatcher (1000/batch) + AgentMessage.encode
//                             (what the gRPC client serialises per batch)
//   decode→batch→encode       both, per line
//   ftrace page decode        decodePage over the captured kernel pages
//                             (agent/src/collectors/ftrace/fixtures)
//   ftrace page+field decode  plus the field reads the correlator makes per
//                             record (pids, filename, argv slots)
//   driver decode→enrich→batch→encode
//                             the driver collector's path over the stream
//                             captured from vigil.ko in QEMU
//                             (test/fixtures/driver/stream.bin, repeated to
//                             ~4 MiB, 64 KiB reads): DriverRecordHandler
//                             (decode, map, process-table enrichment: exe,
//                             argv, parent, grandparent) + EventBatcher +
//                             AgentMessage.encode; per driver record
// /proc reads (processes the stream never introduced) are not in these figures.
//   npm run build && node bench/agent-pipeline.mts [seconds-per-measurement]
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { silentLogger } from "@vigil/common";
import { AgentMessage, Event } from "@vigil/proto";
import { EventBatcher } from "../agent/dist/batching/event-batcher.js";
import { DriverRecordHandler } from "../agent/dist/collectors/driver/driver-record-handler.js";
import { loadCapturedFixtures } from "../agent/dist/collectors/ftrace/captured-fixtures.js";
import { decodePage, RecordBatch } from "../agent/dist/collectors/ftrace/ring-buffer-page.js";
import { benchSeconds, eventMix, measure, rateFields, report, vsTarget } from "./bench-util.mts";

const TARGET = 100_000;
const SECONDS = Number(process.argv[2] ?? benchSeconds());
const CHUNK = 1000;

// --- Replay decode → batch → encode ---------------------------------------------

const lines = eventMix(20_000, 0.01).map((line) => JSON.stringify(line));
const bytesPerLine = lines.reduce((sum, line) => sum + Buffer.byteLength(line), 0) / lines.length;
let cursor = 0;
let sink = 0;

/** ReplayCollector.parseLine, minus its error reporting. */
function parseLine(text: string): Event | undefined {
  const trimmed = text.trim();
  if (trimmed === "" || trimmed.startsWith("#")) return undefined;
  const json: unknown = JSON.parse(trimmed);
  if (typeof json !== "object" || json === null || Array.isArray(json)) return undefined;
  const event = Event.fromJSON(json);
  if (!event.payload) return undefined;
  event.collector ||= "replay";
  return event;
}

let sequence = 0;
const batcher = new EventBatcher({ maxEvents: CHUNK, flushIntervalMs: 20 }, (events) => {
  sequence++;
  sink += AgentMessage.encode({ body: { $case: "batch", value: { sequence, events } } }).finish().byteLength;
});

const decodeOnly = measure(() => {
  const end = cursor + CHUNK;
  for (let i = cursor; i < end; i++) if (parseLine(lines[i])) sink++;
  cursor = end % lines.length;
  return CHUNK;
}, SECONDS);
report("agent replay decode", {
  ...rateFields(decodeOnly),
  bytes_per_line: Math.round(bytesPerLine),
});

const parsed = lines.map(parseLine).filter((event): event is Event => event !== undefined);
const encodeOnly = measure(() => {
  const end = cursor + CHUNK;
  for (let i = cursor; i < end; i++) batcher.add(parsed[i]);
  cursor = end % parsed.length;
  return CHUNK;
}, SECONDS);
report("agent batch+encode", {
  ...rateFields(encodeOnly),
});

const full = measure(() => {
  const end = cursor + CHUNK;
  for (let i = cursor; i < end; i++) {
    const event = parseLine(lines[i]);
    if (event) batcher.add(event);
  }
  cursor = end % lines.length;
  return CHUNK;
}, SECONDS);
batcher.flush();
report("agent decode→batch→encode", {
  ...rateFields(full),
  vs_target: vsTarget(full.perCpuSecond, TARGET),
});

// --- ftrace raw records -----------------------------------------------------------

const {
  read: fixture,
  header,
  execDecoder,
  probeDecoder,
} = loadCapturedFixtures(join(import.meta.dirname, "..", "agent", "src", "collectors", "ftrace", "fixtures"));
const pages = [fixture("cpu0.pages.bin"), fixture("cpu1.pages.bin")];
const records = new RecordBatch();
let recordsPerRound = 0;
for (const page of pages) recordsPerRound += decodePage(page, header, records).records;
records.clear();

const pageDecode = measure(() => {
  let count = 0;
  for (let round = 0; round < 100; round++) {
    for (const page of pages) count += decodePage(page, header, records).records;
    records.clear();
  }
  return count;
}, SECONDS);
report("agent ftrace page decode", {
  ...rateFields(pageDecode, "records"),
  "pages/cpu_s": Math.round((pageDecode.perCpuSecond * pages.length) / recordsPerRound),
  records_per_page: recordsPerRound / pages.length,
  vs_target: vsTarget(pageDecode.perCpuSecond, TARGET),
});

/** The field reads TraceCorrelator.onProbeExec / onExec make for these records. */
function readFields(buffer: Buffer, base: number, length: number): number {
  const type = buffer.readUInt16LE(base);
  const tid = buffer.readInt32LE(base + 4);
  if (type === execDecoder.id) {
    const pid = execDecoder.signedInt(0, buffer, base);
    const oldTid = execDecoder.signedInt(1, buffer, base);
    const filename = execDecoder.string(execDecoder.stringOffset, buffer, base, length) ?? "";
    return pid + oldTid + tid + filename.length;
  }
  if (type === probeDecoder.id) {
    const path = probeDecoder.string(probeDecoder.stringOffset, buffer, base, length) ?? "";
    const argv: string[] = [];
    let complete = false;
    for (let slot = 0; slot < probeDecoder.argvStrings.length; slot++) {
      if (!probeDecoder.nonZero64(probeDecoder.argvPointers[slot], buffer, base)) {
        complete = true;
        break;
      }
      const arg = probeDecoder.string(probeDecoder.argvStrings[slot], buffer, base, length);
      if (arg === undefined) break;
      argv.push(arg);
    }
    if (!complete && argv.length === probeDecoder.argvStrings.length)
      complete = !probeDecoder.nonZero64(probeDecoder.offsets[0], buffer, base);
    return tid + path.length + argv.length + (complete ? 1 : 0);
  }
  return 0;
}

const fieldDecode = measure(() => {
  let count = 0;
  for (let round = 0; round < 100; round++) {
    for (const page of pages) count += decodePage(page, header, records).records;
    records.sort();
    for (const index of records.order) {
      sink += readFields(records.buffers[index], records.offsets[index], records.lengths[index]);
    }
    records.clear();
  }
  return count;
}, SECONDS);
report("agent ftrace page+fields", {
  ...rateFields(fieldDecode, "records"),
  vs_target: vsTarget(fieldDecode.perCpuSecond, TARGET),
});

// --- driver records: decode → enrich → batch → encode ---------------------------

const capture = readFileSync(join(import.meta.dirname, "..", "test", "fixtures", "driver", "stream.bin"));
const copies = Math.max(1, Math.ceil((4 << 20) / capture.length));
const driverStream = Buffer.concat(Array.from({ length: copies }, () => capture));
const READ_BYTES = 64 * 1024;
const driverLogger = silentLogger();
let driverEvents = 0;
const emit = (event: Event) => {
  driverEvents++;
  batcher.add(event);
};

/** One pass over the stream as one /dev/vigil session: a fresh handler (process table). */
function driverPass(): number {
  const handler = new DriverRecordHandler({ logger: driverLogger });
  for (let offset = 0; offset < driverStream.length; offset += READ_BYTES) {
    handler.push(driverStream.subarray(offset, offset + READ_BYTES), emit);
  }
  handler.finish(emit);
  const stats = handler.stats();
  if (stats.decodeErrors > 0)
    throw new Error(`driver stream does not decode cleanly: ${JSON.stringify(stats)}`);
  return stats.driverRecords;
}

const recordsPerPass = driverPass();
const eventsPerPass = driverEvents;
const driverFull = measure(driverPass, SECONDS);
batcher.flush();
report("agent driver→enrich→encode", {
  ...rateFields(driverFull, "records"),
  "events/cpu_s": Math.round((driverFull.perCpuSecond * eventsPerPass) / recordsPerPass),
  events_per_record: eventsPerPass / recordsPerPass,
  vs_target: vsTarget(driverFull.perCpuSecond, TARGET),
});

if (sink < 0) process.stdout.write("unreachable\n"); // keeps the measured work observable
