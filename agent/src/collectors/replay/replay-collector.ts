import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";
import { ErrorCodes, type Logger, VigilError } from "@vigil/common";
import { Event } from "@vigil/proto";
import type { Collector, CollectorHealthReport, EventSink } from "../types";

/** A recorded event line may not be longer than this. */
export const MAX_REPLAY_LINE_BYTES = 1024 * 1024;

export interface ReplayOptions {
  files: string[];
  /** Shift timestamps so the first recorded event happens "now". */
  rebaseTime: boolean;
  /** Events per second at most (0 or absent: as fast as the pipeline takes them). */
  rate?: number;
  logger: Logger;
}

/**
 * Reads recorded events (JSON Lines, one agent Event in protobuf JSON form per
 * line; blank lines and lines starting with # are ignored) and emits them as
 * fast as the pipeline takes them, or at most `rate` per second. For tests,
 * demos and benchmarks.
 * A bad line is reported with its file and line number, counted, and skipped.
 */
export class ReplayCollector implements Collector {
  readonly name = "replay";
  private readonly counters = { events: 0, badLines: 0, files: 0 };
  private finished: Promise<void> = Promise.resolve();
  private stopped = false;
  /** Why the last replay ended with an error (the watchdog restarts it). */
  private failure: string | undefined;

  constructor(private readonly options: ReplayOptions) {}

  start(sink: EventSink): Promise<void> {
    this.stopped = false;
    this.failure = undefined;
    this.finished = this.replayAll(sink);
    this.finished.catch((error: Error) => {
      this.failure = error.message;
    });
    return Promise.resolve();
  }

  health(): CollectorHealthReport {
    return this.failure === undefined ? { ok: true } : { ok: false, error: this.failure };
  }

  /** Resolves once every file has been read. */
  whenDone(): Promise<void> {
    return this.finished;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.finished.catch(() => undefined);
  }

  stats(): Record<string, number> {
    return { ...this.counters };
  }

  private async replayAll(sink: EventSink): Promise<void> {
    let offsetUs: number | undefined;
    const rate = this.options.rate ?? 0;
    const startedMs = performance.now();
    let emitted = 0;
    for (const file of this.options.files) {
      if (this.stopped) return;
      this.counters.files++;
      const lines = createInterface({
        input: createReadStream(file, { encoding: "utf8" }),
        crlfDelay: Infinity,
      });
      let lineNumber = 0;
      try {
        for await (const line of lines) {
          lineNumber++;
          if (this.stopped) break;
          const trimmed = line.trim();
          if (trimmed === "" || trimmed.startsWith("#")) continue;
          const event = this.parseLine(file, lineNumber, trimmed);
          if (!event) continue;
          if (this.options.rebaseTime && event.timestampUs) {
            offsetUs ??= Date.now() * 1000 - event.timestampUs;
            event.timestampUs += offsetUs;
          }
          event.collector ||= "replay";
          this.counters.events++;
          sink(event);
          if (rate > 0) {
            // Paced against the start, so timer slack does not add up.
            const aheadMs = startedMs + (++emitted * 1000) / rate - performance.now();
            if (aheadMs >= 2) await new Promise((done) => setTimeout(done, aheadMs));
          }
        }
      } catch (cause) {
        throw new VigilError(
          ErrorCodes.REPLAY_INPUT,
          `${file}: cannot read replay file: ${(cause as Error).message}`,
          {
            cause,
          },
        );
      } finally {
        lines.close();
      }
    }
  }

  private parseLine(file: string, lineNumber: number, text: string): Event | undefined {
    const where = `${file}:${lineNumber}`;
    if (Buffer.byteLength(text) > MAX_REPLAY_LINE_BYTES)
      return this.reject(where, `line longer than ${MAX_REPLAY_LINE_BYTES} bytes`);
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (error) {
      return this.reject(where, `not JSON: ${(error as Error).message}`);
    }
    if (typeof json !== "object" || json === null || Array.isArray(json))
      return this.reject(where, "expected a JSON object");
    const event = Event.fromJSON(json);
    if (!event.payload) {
      return this.reject(
        where,
        "event has none of exec, exit, connect, fileOpen, credentialChange, fork, processSeen",
      );
    }
    return event;
  }

  private reject(where: string, why: string): undefined {
    this.counters.badLines++;
    const error = new VigilError(ErrorCodes.REPLAY_INPUT, `${where}: ${why}`);
    this.options.logger.warn({ code: error.code }, error.message);
    return undefined;
  }
}
