// Reads the binary per-CPU ring buffers (per_cpu/cpuN/trace_pipe_raw).
// The files are opened O_NONBLOCK and drained with readSync from a timer:
// an empty buffer answers EAGAIN at once, so no libuv threadpool thread is
// ever parked in a blocking kernel read, and a partly filled page is returned
// as soon as it has events (the kernel copies out what is committed).

import { closeSync, constants, openSync, readdirSync, readFileSync, readSync } from "node:fs";
import type { PageHeaderFormat } from "./event-format";
import { decodePage, type RecordBatch } from "./ring-buffer-page";

export interface ReadResult {
  pages: number;
  /** Events the kernel says were lost (ring full) before the pages read. */
  missed: number;
  /** Pages that reported loss without a count. */
  missedUncounted: number;
  malformedPages: number;
}

export class RawPipeReader {
  private readonly fds: number[] = [];
  private readonly cpus: number[] = [];
  private spare: Buffer;

  constructor(
    private readonly instanceDir: string,
    private readonly pageSize: number,
    private readonly header: PageHeaderFormat,
  ) {
    this.spare = Buffer.allocUnsafe(pageSize);
  }

  open(): void {
    for (const entry of readdirSync(`${this.instanceDir}/per_cpu`)) {
      const match = /^cpu(\d+)$/.exec(entry);
      if (match === null) continue;
      try {
        this.fds.push(
          openSync(
            `${this.instanceDir}/per_cpu/${entry}/trace_pipe_raw`,
            constants.O_RDONLY | constants.O_NONBLOCK,
          ),
        );
        this.cpus.push(Number(match[1]));
      } catch {
        // An offline CPU has no buffer to read.
      }
    }
    if (this.fds.length === 0) throw new Error(`no readable ${this.instanceDir}/per_cpu/cpu*/trace_pipe_raw`);
  }

  /** Drains up to maxPagesPerCpu pages of every CPU into batch (pages are kept: records point into them). */
  readInto(batch: RecordBatch, maxPagesPerCpu: number): ReadResult {
    const result: ReadResult = { pages: 0, missed: 0, missedUncounted: 0, malformedPages: 0 };
    for (const fd of this.fds) {
      for (let page = 0; page < maxPagesPerCpu; page++) {
        let bytes: number;
        try {
          bytes = readSync(fd, this.spare, 0, this.pageSize, null);
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code === "EAGAIN") break;
          throw error;
        }
        if (bytes < this.header.dataOffset) break;
        const filled = this.spare;
        this.spare = Buffer.allocUnsafe(this.pageSize);
        const decoded = decodePage(filled.subarray(0, bytes), this.header, batch);
        result.pages++;
        if (decoded.missed > 0) result.missed += decoded.missed;
        else if (decoded.missed < 0) result.missedUncounted++;
        if (decoded.malformed) result.malformedPages++;
      }
    }
    return result;
  }

  /** Kernel counters summed over CPUs: overrun (overwritten, not read) and dropped (ring full). */
  kernelStats(): { overrun: number; dropped: number; entries: number } {
    const totals = { overrun: 0, dropped: 0, entries: 0 };
    for (const cpu of this.cpus) {
      let text: string;
      try {
        text = readFileSync(`${this.instanceDir}/per_cpu/cpu${cpu}/stats`, "utf8");
      } catch {
        continue;
      }
      totals.overrun += statValue(text, "overrun");
      totals.dropped += statValue(text, "dropped events");
      totals.entries += statValue(text, "entries");
    }
    return totals;
  }

  close(): void {
    for (const fd of this.fds.splice(0)) {
      try {
        closeSync(fd);
      } catch {
        // Already closed.
      }
    }
    this.cpus.length = 0;
  }
}

function statValue(text: string, key: string): number {
  const match = new RegExp(`^${key}:\\s*(\\d+)`, "m").exec(text);
  return match === null ? 0 : Number(match[1]);
}
