import {
  AckPolicy,
  DeliverPolicy,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
} from "@nats-io/jetstream";
import { nanos } from "@nats-io/transport-node";
import { ErrorCodes, VigilError } from "../errors";
import type { ReadStreamOptions, StoredMessage } from "./types";

// readStream on JetStream: a short-lived ephemeral consumer positioned at the
// start sequence or time. Its num_pending at creation says how many messages
// there are to read, so an empty or exhausted range returns at once instead
// of waiting out a fetch.

const MSG_ID_HEADER = "nats-msg-id";
const FETCH_EXPIRES_MS = 2000;
/** The server removes the consumer if a read dies before deleting it. */
const INACTIVE_THRESHOLD_MS = 30_000;
const STREAM_NOT_FOUND = 10059;

export async function readNatsStream(
  js: JetStreamClient,
  jsm: JetStreamManager,
  stream: string,
  options: ReadStreamOptions,
): Promise<StoredMessage[]> {
  const position =
    options.startSeq !== undefined
      ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: options.startSeq }
      : options.startTimeMs !== undefined
        ? {
            deliver_policy: DeliverPolicy.StartTime,
            opt_start_time: new Date(options.startTimeMs).toISOString(),
          }
        : { deliver_policy: DeliverPolicy.All };
  let name: string | undefined;
  try {
    const info = await jsm.consumers.add(stream, {
      ...position,
      ack_policy: AckPolicy.None,
      mem_storage: true,
      inactive_threshold: nanos(INACTIVE_THRESHOLD_MS),
      ...(options.subject !== undefined ? { filter_subject: options.subject } : {}),
    });
    name = info.name;
    const want = Math.min(options.limit, info.num_pending);
    const found: StoredMessage[] = [];
    if (want === 0) return found;
    const consumer = await js.consumers.get(stream, name);
    while (found.length < want) {
      const before = found.length;
      const batch = await consumer.fetch({ max_messages: want - found.length, expires: FETCH_EXPIRES_MS });
      for await (const message of batch) found.push(toStored(message));
      // Messages discarded by the stream's limits meanwhile: stop with what exists.
      if (found.length === before) break;
    }
    return found;
  } catch (error) {
    const missing = error instanceof Error && "code" in error && error.code === STREAM_NOT_FOUND;
    throw new VigilError(
      ErrorCodes.BUS_STREAM,
      `read of stream ${stream}: ${missing ? "stream does not exist" : error instanceof Error ? error.message : String(error)}`,
      { cause: error },
    );
  } finally {
    if (name !== undefined) await jsm.consumers.delete(stream, name).catch(() => undefined);
  }
}

function toStored(message: JsMsg): StoredMessage {
  const headers: Record<string, string> = {};
  if (message.headers) {
    for (const [key, values] of message.headers) {
      if (key.toLowerCase() !== MSG_ID_HEADER) headers[key] = values[values.length - 1] ?? "";
    }
  }
  return {
    subject: message.subject,
    data: message.data,
    headers,
    seq: message.seq,
    timeMs: Math.floor(message.info.timestampNanos / 1e6),
  };
}
