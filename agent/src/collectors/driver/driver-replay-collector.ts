import { createReadStream, statSync } from "node:fs";
import { ErrorCodes, type Logger, VigilError } from "@vigil/common";
import type { Event } from "@vigil/proto";
import type { Collector, EventSink } from "../types";
import { DriverRecordHandler } from "./driver-record-handler";

export interface DriverReplayOptions {
  /** Raw /dev/vigil captures (the bytes read from the device, e.g. stream.bin of test/qemu/run-guest.sh). */
  files: string[];
  /** Shift timestamps so the first record happens "now" (default: keep the capture's times). */
  rebaseTime?: boolean;
  logger: Logger;
}

/**
 * The record handlers' counters summed over the files. The capturing driver's
 * own STATS values (ring buffer fill, hook mask) describe another host: left out.
 */
const SUMMED_COUNTERS = [
  "events",
  "kernelEvents",
  "driverRecords",
  "driverDropped",
  "decodeErrors",
  "decodeResyncs",
] as const;

/** Read size: many records per chunk; records spanning chunks are reassembled by the decoder. */
const CHUNK_BYTES = 256 * 1024;

/**
 * Replays captured /dev/vigil streams through the same decoding, mapping and
 * process tracking as the live DriverCollector (DriverRecordHandler), for
 * re-analysing a capture with today's rules, and for tests. Read-only: no
 * device is opened and no control command is written. Each file is a stream of
 * its own (its own process table; a record never spans two files). The capture
 * comes from another host or time, so nothing is looked up in this host's /proc
 * and no record is taken for the agent's own.
 *
 * Malformed records are counted and skipped (the stream resynchronises); a file
 * that cannot be read, or holds no vigil record at all, fails whenDone() with
 * VIGIL_ERR_REPLAY_INPUT naming the file.
 */
export class DriverReplayCollector implements Collector {
  readonly name = "driver-replay";
  private readonly handlers: DriverRecordHandler[] = [];
  private readonly counters = { files: 0, bytes: 0 };
  private finished: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(private readonly options: DriverReplayOptions) {
    if (options.files.length === 0) {
      throw new VigilError(ErrorCodes.REPLAY_INPUT, "driver replay: no capture file given");
    }
  }

  async start(sink: EventSink): Promise<void> {
    // Missing files are reported now, before anything is sent.
    for (const file of this.options.files) {
      try {
        if (!statSync(file).isFile()) throw new Error("not a regular file");
      } catch (cause) {
        throw new VigilError(
          ErrorCodes.REPLAY_INPUT,
          `${file}: cannot replay driver capture: ${(cause as Error).message}`,
          { cause },
        );
      }
    }
    this.finished = this.replayAll(sink);
    this.finished.catch((error: unknown) =>
      this.options.logger.error({ err: error }, "driver capture replay failed"),
    );
  }

  /** Resolves once every file has been replayed. */
  whenDone(): Promise<void> {
    return this.finished;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.finished.catch(() => undefined);
  }

  stats(): Record<string, number> {
    const totals: Record<string, number> = { ...this.counters };
    for (const key of SUMMED_COUNTERS) totals[key] = 0;
    for (const handler of this.handlers) {
      const stats = handler.stats();
      for (const key of SUMMED_COUNTERS) totals[key] += stats[key] ?? 0;
    }
    return totals;
  }

  private async replayAll(sink: EventSink): Promise<void> {
    let offsetUs: number | undefined;
    const emit = (event: Event) => {
      if (this.options.rebaseTime && event.timestampUs) {
        offsetUs ??= Date.now() * 1000 - event.timestampUs;
        event.timestampUs += offsetUs;
      }
      sink(event);
    };
    for (const file of this.options.files) {
      if (this.stopped) return;
      this.counters.files++;
      const handler = new DriverRecordHandler({ logger: this.options.logger.child({ file }) });
      this.handlers.push(handler);
      try {
        for await (const chunk of createReadStream(file, { highWaterMark: CHUNK_BYTES })) {
          if (this.stopped) break;
          this.counters.bytes += (chunk as Buffer).length;
          handler.push(chunk as Buffer, emit);
        }
      } catch (cause) {
        throw new VigilError(
          ErrorCodes.REPLAY_INPUT,
          `${file}: cannot read driver capture: ${(cause as Error).message}`,
          { cause },
        );
      }
      handler.finish(emit);
      const decoded = handler.decoderCounters;
      if (decoded.bytes > 0 && decoded.records + decoded.unknownType === 0) {
        throw new VigilError(
          ErrorCodes.REPLAY_INPUT,
          `${file}: no vigil.ko record in ${decoded.bytes} bytes: not a raw /dev/vigil capture ` +
            `(records start with the magic "VGL1", see driver/README.md)`,
        );
      }
      if (decoded.errors > 0) {
        this.options.logger.warn(
          { file, errors: decoded.errors, skippedBytes: decoded.skippedBytes, truncated: decoded.truncated },
          "driver capture has malformed records: counted and skipped",
        );
      }
    }
  }
}
