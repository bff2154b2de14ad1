import { join } from "node:path";
import { loadCapturedFixtures } from "./captured-fixtures";
import { decodePage, RecordBatch } from "./ring-buffer-page";

const {
  read: fixture,
  header,
  execFormat,
  execDecoder,
  probeDecoder,
} = loadCapturedFixtures(join(__dirname, "fixtures"));

function argvOf(buffer: Buffer, base: number, length: number): string[] {
  const argv: string[] = [];
  for (let slot = 0; slot < 4; slot++) {
    if (!probeDecoder.nonZero64(probeDecoder.argvPointers[slot], buffer, base)) break;
    argv.push(probeDecoder.string(probeDecoder.argvStrings[slot], buffer, base, length) ?? "(fault)");
  }
  return argv;
}

describe("ring buffer page", () => {
  it("ring buffer page - header_page layout of a 64-bit kernel", () => {
    expect(header).toEqual({ timestampOffset: 0, commitOffset: 8, commitSize: 8, dataOffset: 16 });
  });

  it("ring buffer page - decodes a real page: small and large records, time extend, strings with quotes", () => {
    const batch = new RecordBatch();
    const result = decodePage(fixture("cpu0.pages.bin"), header, batch);
    expect(result).toEqual({ records: 8, missed: 0, malformed: false });
    const decoded: { type: number; text: string; ts: number }[] = [];
    for (let index = 0; index < batch.count; index++) {
      const buffer = batch.buffers[index];
      const base = batch.offsets[index];
      const length = batch.lengths[index];
      const type = buffer.readUInt16LE(base);
      const text =
        type === execFormat.id
          ? `exec ${execDecoder.string(execDecoder.stringOffset, buffer, base, length)}`
          : `probe ${probeDecoder.string(probeDecoder.stringOffset, buffer, base, length)} ${JSON.stringify(argvOf(buffer, base, length))}`;
      decoded.push({ type, text, ts: batch.timestamps[index] });
    }
    expect(decoded.map((record) => record.text)).toEqual([
      'probe /bin/sh ["/bin/sh","-c","/bin/echo \\"x\\\\\\" a1=\\\\\\"spoof\\" b > /dev/null; sleep 0.3; /usr/bin/true 1 2 3 4 5"]',
      "exec /bin/sh",
      'probe /bin/echo ["/bin/echo","x\\" a1=\\"spoof","b"]',
      "exec /bin/echo",
      'probe /usr/bin/sleep ["sleep","0.3"]',
      "exec /usr/bin/sleep",
      'probe /usr/bin/true ["/usr/bin/true","1","2","3"]',
      "exec /usr/bin/true",
    ]);
    // Timestamps only grow; the sleep shows as a jump of ~0.3 s carried by the TIME_EXTEND record.
    for (let index = 1; index < decoded.length; index++)
      expect(decoded[index].ts).toBeGreaterThan(decoded[index - 1].ts);
    const gap = decoded[6].ts - decoded[5].ts;
    expect(gap).toBeGreaterThan(0.29e9);
    expect(gap).toBeLessThan(0.5e9);
  });

  it("ring buffer page - argv beyond the captured slots is flagged by the next pointer", () => {
    const batch = new RecordBatch();
    decodePage(fixture("cpu0.pages.bin"), header, batch);
    const echo = 2;
    const truePg = 6;
    // echo's argv ends inside the slots (p3 is NULL); what follows the NULL is not argv.
    expect(
      probeDecoder.nonZero64(probeDecoder.argvPointers[3], batch.buffers[echo], batch.offsets[echo]),
    ).toBe(false);
    expect(
      probeDecoder.nonZero64(probeDecoder.argvPointers[3], batch.buffers[truePg], batch.offsets[truePg]),
    ).toBe(true);
    expect(
      probeDecoder.nonZero64(probeDecoder.offsets[0], batch.buffers[truePg], batch.offsets[truePg]),
    ).toBe(true);
  });

  it("ring buffer page - sched_process_exec pid fields", () => {
    const batch = new RecordBatch();
    decodePage(fixture("cpu1.pages.bin"), header, batch);
    expect(batch.count).toBe(2);
    const base = batch.offsets[1];
    const pid = execDecoder.signedInt(0, batch.buffers[1], base);
    expect(pid).toBeGreaterThan(0);
    expect(execDecoder.signedInt(1, batch.buffers[1], base)).toBe(pid);
    expect(batch.buffers[1].readInt32LE(base + 4)).toBe(pid); // common_pid
  });

  it("ring buffer page - synthetic: padding, absolute timestamp, lost-event count, truncated page", () => {
    const page = Buffer.alloc(128);
    page.writeBigUInt64LE(1000n, 0);
    let at = 16;
    const word = (typeLen: number, delta: number) => (delta << 5) | typeLen;
    page.writeUInt32LE(word(2, 5), at); // 8 bytes of data at ts 1005
    page.writeUInt16LE(7, at + 4);
    at += 12;
    page.writeUInt32LE(word(29, 3), at); // discarded event of 8 data bytes, its delta counts
    page.writeUInt32LE(8, at + 4);
    at += 12;
    page.writeUInt32LE(word(31, 20), at); // absolute timestamp 2*2^27+20
    page.writeUInt32LE(2, at + 4);
    at += 8;
    page.writeUInt32LE(word(1, 1), at);
    page.writeUInt16LE(9, at + 4);
    at += 8;
    const length = at - 16;
    page.writeUInt32LE((length | 0x80000000 | 0x40000000) >>> 0, 8);
    page.writeBigUInt64LE(42n, at); // missed count stored after the data
    const batch = new RecordBatch();
    const result = decodePage(page, header, batch);
    expect(result).toEqual({ records: 2, missed: 42, malformed: false });
    expect(batch.timestamps.slice(0, 2)).toEqual([1005, 2 * 2 ** 27 + 21]);
    expect(batch.lengths.slice(0, 2)).toEqual([8, 4]);

    const truncated = Buffer.from(page.subarray(0, 24));
    expect(decodePage(truncated, header, new RecordBatch()).malformed).toBe(true);
  });

  it("ring buffer page - sort orders records of several CPUs by time, stably", () => {
    const batch = new RecordBatch();
    const page = Buffer.alloc(1);
    for (const ts of [30, 10, 20, 10]) batch.push(ts, page, ts, 0);
    batch.sort();
    expect(batch.order.map((index) => batch.offsets[index])).toEqual([10, 10, 20, 30]);
    expect(batch.order).toEqual([1, 3, 2, 0]);
  });
});
