import {
  chmodSync,
  chownSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { silentLogger } from "@vigil/common";
import { type Event, Process, ProcessExec } from "@vigil/proto";
import { agentConfigSchema } from "../config";
import { DiskSpool, type DiskSpoolOptions } from "./disk-spool";
import { isLowPriority } from "./event-priority";
import { MemorySpool } from "./memory-spool";
import { SEGMENT_HEADER_BYTES } from "./segment-file";
import type { SpooledBatch } from "./types";

const logger = silentLogger();
let dir: string;

beforeEach(() => {
  dir = join(mkdtempSync(join(tmpdir(), "vigil-spool-")), "spool");
});
afterEach(() => rmSync(join(dir, ".."), { recursive: true, force: true }));

function open(overrides: Partial<DiskSpoolOptions> = {}): DiskSpool {
  return new DiskSpool({
    dir,
    maxBytes: 64 * 1024 * 1024,
    segmentBytes: 1024 * 1024,
    fsync: "never",
    fsyncIntervalMs: 1000,
    logger,
    firstSequence: () => 1000,
    ...overrides,
  });
}

function exec(pid: number): Event {
  return {
    timestampUs: 1_700_000_000_000_000 + pid,
    collector: "test",
    process: Process.fromPartial({ pid, ppid: 1, name: "cat", executable: "/usr/bin/cat" }),
    payload: {
      $case: "exec",
      value: ProcessExec.fromPartial({ filename: "/usr/bin/cat", argv: ["cat", "/etc/shadow"] }),
    },
  };
}

function fork(pid: number): Event {
  return {
    timestampUs: 1_700_000_000_000_000 + pid,
    collector: "test",
    process: Process.fromPartial({ pid, ppid: 1, name: "sh" }),
    payload: { $case: "fork", value: { childPid: pid + 1 } },
  };
}

/** Everything the spool would send now, in order. */
function drain(spool: DiskSpool | MemorySpool): SpooledBatch[] {
  const out: SpooledBatch[] = [];
  spool.rewind();
  for (let batch = spool.takeNextToSend(1e9); batch; batch = spool.takeNextToSend(1e9)) out.push(batch);
  spool.rewind();
  return out;
}

const pids = (batches: SpooledBatch[]) =>
  batches.flatMap((batch) => batch.events.map((event) => event.process?.pid));
const segmentFiles = () =>
  readdirSync(dir)
    .filter((name) => name.endsWith(".seg"))
    .sort();

describe("spool - append, ack and recover", () => {
  test("unacked batches survive a restart and come back in order; acked ones do not", () => {
    let spool = open();
    const sequences = [1, 2, 3, 4, 5].map((n) => spool.append([exec(n * 10), exec(n * 10 + 1)]));
    expect(sequences).toEqual([1000, 1001, 1002, 1003, 1004]);
    expect(spool.takeNextToSend(2)?.sequence).toBe(1000);
    expect(spool.takeNextToSend(2)?.sequence).toBe(1001);
    expect(spool.takeNextToSend(2)).toBeUndefined(); // the in-flight window is full
    expect(spool.acknowledge(1000)).toEqual({ events: 2 });
    expect(spool.acknowledge(1001)).toEqual({ events: 2 });
    expect(spool.lastAckedSequence()).toBe(1001);
    spool.close();

    spool = open();
    expect(spool.size()).toBe(3);
    expect(spool.eventCount()).toBe(6);
    expect(spool.lastAckedSequence()).toBe(1001);
    const batches = drain(spool);
    expect(batches.map((batch) => batch.sequence)).toEqual([1002, 1003, 1004]);
    expect(pids(batches)).toEqual([30, 31, 40, 41, 50, 51]);
    expect(batches[0].events[0]).toEqual(exec(30));
    expect(spool.stats()).toMatchObject({ recoveredBatches: 3, recoveredEvents: 6, corruptRecords: 0 });
    // Sequences continue above everything handed out before.
    expect(spool.append([exec(60)])).toBeGreaterThan(1004);
    spool.close();
  });

  test("files are 0600 in a 0700 directory", () => {
    const spool = open();
    spool.append([exec(1)]);
    spool.close();
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    for (const name of readdirSync(dir)) expect(statSync(join(dir, name)).mode & 0o777).toBe(0o600);
  });

  test("sequences continue across restarts even when every batch was acked and its segment deleted", () => {
    let spool = open({ segmentBytes: 4096, maxBytes: 64 * 1024 });
    let last = 0;
    for (let i = 0; i < 50; i++) {
      last = spool.append([exec(i)]);
      spool.takeNextToSend(16);
      spool.acknowledge(last);
    }
    expect(spool.size()).toBe(0);
    expect(segmentFiles().length).toBeLessThanOrEqual(2);
    spool.close();
    spool = open({ segmentBytes: 4096, maxBytes: 64 * 1024, firstSequence: () => 1 });
    expect(spool.lastAckedSequence()).toBeGreaterThanOrEqual(last);
    expect(spool.append([exec(99)])).toBeGreaterThan(last);
    spool.close();
  });

  test("a killed agent (no close, no state save) resends every unacked batch; at most acked ones twice", () => {
    const first = open();
    for (let n = 0; n < 10; n++) first.append([exec(n)]);
    for (let n = 0; n < 4; n++) first.acknowledge(first.takeNextToSend(16)?.sequence ?? -1);
    // No close(): like kill -9, only what write() put in the page cache is there.
    const second = open();
    const batches = drain(second);
    const resent = pids(batches);
    expect(resent.slice(-6)).toEqual([4, 5, 6, 7, 8, 9]);
    expect(resent.length).toBeGreaterThanOrEqual(6);
    second.close();
  });

  test("a torn tail in the last segment is cut off and counted; the spool keeps working", () => {
    let spool = open();
    for (let n = 1; n <= 3; n++) spool.append([exec(n)]);
    spool.close();
    const [segment] = segmentFiles();
    const path = join(dir, segment);
    const size = statSync(path).size;
    truncateSync(path, size - 7); // the last record is half written
    spool = open();
    expect(spool.stats()).toMatchObject({ tornTails: 1, recoveredBatches: 2 });
    expect(pids(drain(spool))).toEqual([1, 2]);
    expect(statSync(path).size).toBeLessThan(size - 7);
    spool.append([exec(4)]);
    spool.close();
    spool = open();
    expect(pids(drain(spool))).toEqual([1, 2, 4]);
    spool.close();
  });

  test("a corrupt record in an older segment is skipped and counted; the records around it survive", () => {
    let spool = open({ segmentBytes: 4096, maxBytes: 1024 * 1024 });
    for (let n = 0; n < 200; n++) spool.append([exec(n)]);
    spool.close();
    const segments = segmentFiles();
    expect(segments.length).toBeGreaterThan(2);
    const path = join(dir, segments[0]);
    const data = readFileSync(path);
    // Flip a byte inside the second record's body.
    const firstFrame = data.readUInt32LE(SEGMENT_HEADER_BYTES + 4) + 12;
    data[SEGMENT_HEADER_BYTES + firstFrame + 40] ^= 0xff;
    writeFileSync(path, data);
    spool = open({ segmentBytes: 4096, maxBytes: 1024 * 1024 });
    expect(spool.stats().corruptRecords).toBe(1);
    const resent = pids(drain(spool));
    expect(resent).toHaveLength(199);
    expect(resent).not.toContain(1);
    expect(resent.slice(0, 3)).toEqual([0, 2, 3]);
    expect(resent.at(-1)).toBe(199);
    spool.close();
  });

  test("a state file that cannot be read does not lose batches nor reuse sequences", () => {
    let spool = open();
    spool.append([exec(1)]);
    spool.append([exec(2)]);
    spool.close();
    writeFileSync(join(dir, "state.json"), "{not json");
    spool = open({ firstSequence: () => 5_000_000 });
    expect(pids(drain(spool))).toEqual([1, 2]);
    expect(spool.append([exec(3)])).toBeGreaterThanOrEqual(5_000_000);
    spool.close();
  });
});

describe("spool - bound and eviction", () => {
  const bounded = { segmentBytes: 4096, maxBytes: 16 * 1024 };

  test("when full, the oldest low-priority events go first, counted by reason; high-priority ones stay", () => {
    const spool = open(bounded);
    // Each batch: one exec (high) and four forks (low).
    let batches = 0;
    while (!spool.stats().segmentsCompacted) {
      const base = batches * 10;
      spool.append([exec(base), fork(base + 1), fork(base + 2), fork(base + 3), fork(base + 4)]);
      batches++;
    }
    expect(spool.bytes()).toBeLessThanOrEqual(bounded.maxBytes);
    const report = spool.takeOverflow();
    expect(report).toBeDefined();
    expect(report?.eventsLost).toBeGreaterThan(0);
    expect(Object.keys(report?.lostByReason ?? {})).toEqual(["low-priority.fork"]);
    expect(report?.totalEventsLost).toBe(report?.eventsLost);
    expect(spool.takeOverflow()).toBeUndefined();
    const sent = drain(spool);
    // Every exec is still there, in order; forks were dropped from the oldest batches only.
    const events = sent.flatMap((batch) => batch.events);
    expect(events.filter((event) => !isLowPriority(event)).map((event) => event.process?.pid)).toEqual(
      Array.from({ length: batches }, (_, i) => i * 10),
    );
    const firstWithForks = sent.findIndex((batch) => batch.events.length === 5);
    expect(firstWithForks).toBeGreaterThan(0);
    expect(sent.slice(firstWithForks).every((batch) => batch.events.length === 5)).toBe(true);
    expect(sent.slice(0, firstWithForks).every((batch) => batch.events.length === 1)).toBe(true);
    expect(events.filter(isLowPriority).length + (report?.eventsLost ?? 0)).toBe(batches * 4);
    spool.close();
  });

  test("with only high-priority events left, the oldest whole segment goes; the loss survives a restart", () => {
    let spool = open(bounded);
    for (let n = 0; n < 300; n++) spool.append([exec(n)]);
    expect(spool.bytes()).toBeLessThanOrEqual(bounded.maxBytes);
    const report = spool.takeOverflow();
    expect(report?.lostByReason["spool-full.exec"]).toBe(report?.eventsLost);
    expect(report?.batchesLost).toBe(report?.eventsLost);
    const kept = pids(drain(spool));
    expect(kept.length + (report?.eventsLost ?? 0)).toBe(300);
    // What is left is the newest events, contiguous, ending with the last one.
    expect(kept).toEqual(Array.from({ length: kept.length }, (_, i) => 300 - kept.length + i));
    expect(spool.lastAckedSequence()).toBe(1000 + 300 - kept.length - 1);
    spool.close();
    spool = open(bounded);
    expect(spool.stats().eventsLost).toBe(report?.eventsLost);
    expect(spool.lostByReason()).toEqual({ "spool-full.exec": report?.eventsLost });
    spool.close();
  });

  test("batches in flight are not rewritten by eviction", () => {
    const spool = open(bounded);
    spool.append([exec(0), fork(1), fork(2)]);
    const inFlight = spool.takeNextToSend(1);
    for (let n = 1; spool.stats().segmentsCompacted === 0; n++)
      spool.append([exec(n * 10), fork(n * 10 + 1)]);
    expect(spool.stats().segmentsDropped).toBe(0);
    spool.rewind();
    const first = spool.takeNextToSend(1);
    expect(first?.sequence).toBe(inFlight?.sequence);
    expect(first?.events).toHaveLength(3);
    expect(spool.takeNextToSend(2)?.events).toHaveLength(1); // the next one lost its fork
    spool.close();
  });

  test("the memory spool keeps the newest batches within its bound and reports what it dropped", () => {
    const spool = new MemorySpool(3, 1);
    for (let n = 0; n < 5; n++) spool.append([exec(n), fork(n + 100)]);
    expect(pids(drain(spool))).toEqual([2, 102, 3, 103, 4, 104]);
    expect(spool.lastAckedSequence()).toBe(2);
    expect(spool.takeOverflow()).toMatchObject({
      eventsLost: 4,
      batchesLost: 2,
      lostByReason: { "memory-full.exec": 2, "memory-full.fork": 2 },
    });
  });
});

describe("spool - directory safety and configuration", () => {
  test("a group- or world-writable directory is refused with a message naming it", () => {
    mkdirSync(dir, { recursive: true });
    chmodSync(dir, 0o777);
    expect(() => open()).toThrow(/spool directory .* writable by group or others \(mode 777\)/);
  });

  test("a readable-by-others directory is tightened to 0700", () => {
    mkdirSync(dir, { recursive: true });
    chmodSync(dir, 0o755);
    open().close();
    expect(statSync(dir).mode & 0o777).toBe(0o700);
  });

  const asRoot = process.getuid?.() === 0 ? test : test.skip;
  asRoot("a directory owned by another user is refused", () => {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    chownSync(dir, 65534, 65534);
    expect(() => open()).toThrow(/owned by uid 65534/);
  });

  test("config: spool defaults, and a bound smaller than two segments names the key", () => {
    const config = agentConfigSchema.parse({});
    expect(config.spool).toEqual({
      mode: "disk",
      maxBytes: 256 * 1024 * 1024,
      segmentBytes: 8 * 1024 * 1024,
      fsync: "batch",
      fsyncIntervalMs: 1000,
    });
    expect(() => agentConfigSchema.parse({ spool: { maxBytes: 100_000, segmentBytes: 65_536 } })).toThrow(
      /spool\.maxBytes|maxBytes/,
    );
  });
});
