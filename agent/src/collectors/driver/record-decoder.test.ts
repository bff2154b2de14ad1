import { AddressFamily } from "@vigil/proto";
import fc from "fast-check";
import { DRIVER_EVENT_IDS as T, VIGIL_HDR_SIZE, VIGIL_MAX_RECORD } from "./event-table.gen";
import { DriverRecordDecoder, ipv6Text } from "./record-decoder";
import { concatAll, encodeRecord } from "./record-encoder";
import { mapDriverRecord } from "./record-mapper";

const loopback = { family: 2, port: 4444, addr: [127, 0, 0, 1] };

function execRecord(pid = 100): Uint8Array {
  return encodeRecord(
    T.EXEC,
    {
      filename: "/bin/true",
      argc: 4,
      argv: ["/bin/true", "a", "b", "c"],
      cwd: "/root",
      tty: "ttyS0",
      ld_preload: "/tmp/x.so",
      stdin_kind: 4,
      stdin_remote: loopback,
    },
    {
      pid,
      tgid: pid,
      ppid: 1,
      uid: 0,
      euid: 0,
      gid: 0,
      sid: 1,
      comm: "true",
      tsRealNs: 1_700_000_000_123_456_789n,
    },
  );
}

describe("DriverRecordDecoder", () => {
  it("decodes an exec record: header, strings, argv, addresses", () => {
    const { records, counters } = DriverRecordDecoder.decodeAll(execRecord(42));
    expect(counters.errors).toBe(0);
    expect(records).toHaveLength(1);
    const r = records[0];
    expect(r?.def.key).toBe("EXEC");
    expect(r?.header).toMatchObject({ pid: 42, tgid: 42, ppid: 1, comm: "true", hdrSize: VIGIL_HDR_SIZE });
    expect(r?.fields).toMatchObject({
      filename: "/bin/true",
      interpreter: "",
      argc: 4,
      argv: ["/bin/true", "a", "b", "c"],
      cwd: "/root",
      ld_preload: "/tmp/x.so",
      stdin_kind: 4,
      stdin_remote: { family: 2, port: 4444, ip: "127.0.0.1" },
      stdout_local: { family: 0, port: 0, ip: "" },
    });
  });

  it("maps exec, fork, exit, cred, connect, file open to typed events and the rest to generic ones", () => {
    const stream = concatAll([
      execRecord(42),
      encodeRecord(T.FORK, { child_pid: 43, child_tgid: 43, is_thread: 0 }, { pid: 42 }),
      encodeRecord(T.EXIT, { exit_code: 7 << 8, is_thread: 0 }, { pid: 43 }),
      encodeRecord(
        T.CRED_CHANGE,
        { old_uid: 0, old_euid: 0, new_uid: 65534, new_euid: 65534, new_gid: 0, syscall: 117 },
        { pid: 44 },
      ),
      encodeRecord(T.CONNECT, {
        protocol: 6,
        sock_type: 1,
        local: { family: 2, port: 40000, addr: [127, 0, 0, 1] },
        remote: { family: 2, port: 8080, addr: [10, 1, 2, 3] },
        result: -111,
      }),
      encodeRecord(T.FILE_OPEN_WRITE, { path: "/tmp/watched/x", flags: 0x241, mode: 0o644 }),
      encodeRecord(T.DNS_QUERY, {
        protocol: 17,
        remote: { family: 2, port: 53, addr: [127, 0, 0, 1] },
        query_id: 0x5647,
        query_type: 1,
        query_name: "vigil-test.example.com",
      }),
      encodeRecord(T.PTRACE, {
        mode: 0,
        target_pid: 50,
        target_tgid: 50,
        target_comm: "sleep",
        request: 16n,
      }),
      encodeRecord(T.STATS, { records: 10n, hook_counts: new Uint8Array([1, 2]) }),
    ]);
    const { records, counters } = DriverRecordDecoder.decodeAll(stream);
    expect(counters).toMatchObject({ records: 9, errors: 0 });
    const mapped = records.map(mapDriverRecord);
    const payloads = mapped.map((m) =>
      m.kind === "event" ? m.event.payload?.$case : `generic:${m.event.type}`,
    );
    expect(payloads).toEqual([
      "exec",
      "fork",
      "exit",
      "credentialChange",
      "connect",
      "fileOpen",
      "generic:dns",
      "generic:ptrace",
      "generic:stats",
    ]);
    const [exec, fork, exit, cred, connect, open, dns, , stats] = mapped;
    expect(exec?.kind === "event" && exec.event).toMatchObject({
      collector: "driver",
      timestampUs: 1_700_000_000_123_456,
      process: {
        pid: 42,
        ppid: 1,
        name: "true",
        executable: "/bin/true",
        args: ["/bin/true", "a", "b", "c"],
      },
      payload: { value: { filename: "/bin/true", argv: ["/bin/true", "a", "b", "c"], argvTruncated: false } },
    });
    expect(fork?.event).toMatchObject({ payload: { value: { childPid: 43 } } });
    expect(exit?.event).toMatchObject({ payload: { value: { exitCode: 7, signal: 0 } } });
    expect(cred?.event).toMatchObject({
      payload: { value: { syscall: "setresuid", oldUid: 0, newUid: 65534, newEuid: 65534 } },
    });
    expect(connect?.event).toMatchObject({
      payload: {
        value: {
          family: AddressFamily.ADDRESS_FAMILY_INET,
          transport: "tcp",
          sourceIp: "127.0.0.1",
          sourcePort: 40000,
          destinationIp: "10.1.2.3",
          destinationPort: 8080,
          result: -111,
        },
      },
    });
    expect(open?.event).toMatchObject({
      payload: { value: { path: "/tmp/watched/x", flags: 0x241, mode: 0o644 } },
    });
    expect(dns?.event).toMatchObject({
      category: "network",
      fields: { query_name: "vigil-test.example.com", remote: { ip: "127.0.0.1", port: 53 } },
    });
    expect(stats?.event).toMatchObject({ fields: { records: "10", hook_counts: "0102" } });
    expect(JSON.stringify(mapped.filter((m) => m.kind === "generic"))).toContain("vigil-test.example.com");
  });

  it("accepts older (fewer) and newer (more) fields, and a bigger header", () => {
    const older = encodeRecord(T.FORK, { child_pid: 5, child_tgid: 5 }, { nfields: 2 });
    // Drop the last (is_thread) byte so the size matches the 2 fields sent.
    const olderTrimmed = older.slice(0, older.length - 1);
    new DataView(olderTrimmed.buffer).setUint32(8, olderTrimmed.length, true);
    const newer = concatAll([encodeRecord(T.EXIT, { exit_code: 256 }, { nfields: 5 }), new Uint8Array(9)]);
    new DataView(newer.buffer).setUint32(8, newer.length, true);
    const bigHeader = encodeRecord(T.EXIT, { exit_code: 512 }, { hdrSize: VIGIL_HDR_SIZE + 8 });
    const { records, counters } = DriverRecordDecoder.decodeAll(concatAll([olderTrimmed, newer, bigHeader]));
    expect(counters.errors).toBe(0);
    expect(records.map((r) => r.fields)).toEqual([
      { child_pid: 5, child_tgid: 5 },
      { exit_code: 256, is_thread: 0 },
      { exit_code: 512, is_thread: 0 },
    ]);
  });

  it("skips unknown types by size without an error", () => {
    const unknown = encodeRecord(999, {});
    const { records, counters } = DriverRecordDecoder.decodeAll(concatAll([unknown, execRecord()]));
    expect(records).toHaveLength(1);
    expect(counters).toMatchObject({ unknownType: 1, errors: 0 });
  });

  it("rejects bad version, impossible sizes and overrunning fields, and resynchronises", () => {
    const badVersion = encodeRecord(T.EXIT, {}, { version: 9 });
    const tooSmall = encodeRecord(T.EXIT, {}, { size: 10 });
    const tooBig = encodeRecord(T.EXIT, {}, { size: VIGIL_MAX_RECORD + 1 });
    const overrun = encodeRecord(T.FILE_UNLINK, { path: "/x" });
    new DataView(overrun.buffer).setUint16(VIGIL_HDR_SIZE, 500, true); // STR length past the record
    const garbage = new Uint8Array([1, 2, 3, 0x56, 0x47, 0x4c, 9, 9]);
    const stream = concatAll([badVersion, execRecord(1), tooSmall, garbage, tooBig, overrun, execRecord(2)]);
    const { records, counters } = DriverRecordDecoder.decodeAll(stream);
    expect(records.map((r) => r.header.pid)).toEqual([1, 2]);
    expect(counters).toMatchObject({ badVersion: 1, badSize: 2, badFields: 1, truncated: 0 });
    // One resync after the bad version, one for the contiguous run of damage before execRecord(2).
    expect(counters.resyncs).toBe(2);
    expect(counters.errors).toBe(6);
  });

  it("holds a record split across reads, and counts a truncated tail at the end", () => {
    const stream = concatAll([execRecord(1), execRecord(2)]);
    const decoder = new DriverRecordDecoder();
    const got: number[] = [];
    for (let i = 0; i < stream.length; i += 7) {
      for (const r of decoder.push(stream.subarray(i, i + 7))) got.push(r.header.pid);
    }
    expect(got).toEqual([1, 2]);
    decoder.push(execRecord(3).subarray(0, 50));
    expect(decoder.finish()).toEqual([]);
    // truncated, then one resync scanning the rest of it
    expect(decoder.counters).toMatchObject({ records: 2, truncated: 1, resyncs: 1, errors: 2 });
  });

  it("formats IPv6 addresses (RFC 5952)", () => {
    const v6 = new Uint8Array(16);
    v6[15] = 1;
    expect(ipv6Text(v6)).toBe("::1");
    expect(ipv6Text(new Uint8Array([0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]))).toBe(
      "2001:db8::1",
    );
    expect(ipv6Text(new Uint8Array([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 1]))).toBe(
      "::ffff:10.0.0.1",
    );
  });
});

describe("DriverRecordDecoder under hostile input (property-based)", () => {
  const validRecord = fc
    .record({
      pid: fc.integer({ min: 1, max: 4_000_000 }),
      name: fc.string({ maxLength: 40 }),
      argv: fc.array(fc.string({ maxLength: 20 }), { maxLength: 6 }),
      port: fc.integer({ min: 0, max: 65535 }),
      kind: fc.constantFrom(T.EXEC, T.CONNECT, T.FILE_RENAME, T.DNS_QUERY, T.EXIT, T.STATS),
    })
    .map(({ pid, name, argv, port, kind }) =>
      encodeRecord(
        kind,
        {
          filename: name,
          argv,
          old_path: name,
          new_path: `${name}.new`,
          query_name: name,
          remote: { family: 2, port, addr: [127, 0, 0, 1] },
          exit_code: port,
          hook_counts: new TextEncoder().encode(name),
        },
        { pid, tgid: pid, comm: name },
      ),
    );

  it("recovers the records behind one whose size field was corrupted upwards", () => {
    const first = execRecord(1);
    new DataView(first.buffer).setUint32(8, 8000, true);
    const { records, counters } = DriverRecordDecoder.decodeAll(
      concatAll([first, execRecord(2), execRecord(3)]),
    );
    expect(records.map((r) => r.header.pid)).toEqual([2, 3]);
    expect(counters).toMatchObject({ truncated: 1 });
  });

  it("never throws on random bytes, and accounts for every byte", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 4096 }), fc.integer({ min: 1, max: 300 }), (bytes, chunk) => {
        const decoder = new DriverRecordDecoder();
        for (let i = 0; i < bytes.length; i += chunk) decoder.push(bytes.subarray(i, i + chunk));
        decoder.finish();
        expect(decoder.counters.bytes).toBe(bytes.length);
        expect(decoder.counters.internal).toBe(0);
        // Random bytes almost never hold a magic: then everything was skipped, in one resync.
        if (decoder.counters.records === 0 && bytes.length > 3)
          expect(decoder.counters.skippedBytes).toBeGreaterThan(0);
      }),
      { numRuns: 300 },
    );
  });

  it("decodes every valid record however the stream is chunked", () => {
    fc.assert(
      fc.property(
        fc.array(validRecord, { maxLength: 20 }),
        fc.integer({ min: 1, max: 500 }),
        (recs, chunk) => {
          const stream = concatAll(recs);
          const decoder = new DriverRecordDecoder();
          const pids: number[] = [];
          for (let i = 0; i < stream.length; i += chunk) {
            for (const r of decoder.push(stream.subarray(i, i + chunk))) pids.push(r.header.pid);
          }
          decoder.finish();
          expect(decoder.counters.errors).toBe(0);
          expect(pids).toEqual(recs.map((r) => new DataView(r.buffer).getUint32(40, true)));
        },
      ),
      { numRuns: 200 },
    );
  });

  it("survives mutated streams: no throw, errors counted, intact records after the damage still decode", () => {
    fc.assert(
      fc.property(
        fc.array(validRecord, { minLength: 2, maxLength: 12 }),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }),
        fc.option(fc.nat(), { nil: undefined }),
        (recs, flips, cut) => {
          const stream = concatAll(recs);
          for (const [at, value] of flips) stream[at % stream.length] = value;
          const damaged = cut === undefined ? stream : stream.subarray(0, cut % (stream.length + 1));
          const decoder = new DriverRecordDecoder();
          let records = 0;
          for (const mapped of [...decoder.push(damaged), ...decoder.finish()].map(mapDriverRecord)) {
            expect(mapped.event.collector).toBe("driver");
            records++;
          }
          expect(decoder.counters.records).toBe(records);
          expect(decoder.counters.internal).toBe(0);
          // The last record is untouched when no flip and no cut landed in it: it must survive.
          const last = recs[recs.length - 1] as Uint8Array;
          const lastStart = stream.length - last.length;
          const lastTouched =
            flips.some(([at]) => at % stream.length >= lastStart) || damaged.length < stream.length;
          if (!lastTouched) expect(records).toBeGreaterThanOrEqual(1);
        },
      ),
      { numRuns: 300 },
    );
  });
});
