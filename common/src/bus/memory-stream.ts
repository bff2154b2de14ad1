import { effectiveDuplicateWindowMs } from "./stream-spec";
import { subjectMatches } from "./subject-match";
import type { PublishAck, StreamSpec } from "./types";

// One in-process stream with JetStream's limits semantics: sequences start at
// 1 and never repeat, the oldest messages are discarded past maxBytes/maxAge,
// and a msgId seen within the duplicate window is not stored again.

export interface StreamRecord {
  seq: number;
  subject: string;
  data: Uint8Array;
  msgId: string | undefined;
  headers: Record<string, string>;
  storedAt: number;
  size: number;
}

interface DedupEntry {
  seq: number;
  at: number;
}

export class MemoryStream {
  private messages: StreamRecord[] = [];
  /** Index of the oldest live message in `messages` (cheap head drops). */
  private head = 0;
  private bytes = 0;
  private lastSeq = 0;
  private readonly dedup = new Map<string, DedupEntry>();

  constructor(public spec: StreamSpec) {}

  captures(subject: string): boolean {
    return this.spec.subjects.some((pattern) => subjectMatches(pattern, subject));
  }

  /** Sequence the next new consumer starts from (the oldest stored one). */
  firstSeq(): number {
    return this.head < this.messages.length ? this.messages[this.head].seq : this.lastSeq + 1;
  }

  store(
    subject: string,
    data: Uint8Array,
    msgId: string | undefined,
    headers: Record<string, string>,
  ): PublishAck {
    const now = Date.now();
    this.applyLimits(now);
    if (msgId !== undefined) {
      const seen = this.dedup.get(msgId);
      if (seen) return { stream: this.spec.name, seq: seen.seq, duplicate: true };
    }
    const seq = ++this.lastSeq;
    const size = subject.length + data.byteLength + (msgId?.length ?? 0) + headerBytes(headers);
    // Copied so a publisher reusing its buffer cannot change what was stored.
    this.messages.push({
      seq,
      subject,
      data: data.slice(),
      msgId,
      headers: { ...headers },
      storedAt: now,
      size,
    });
    this.bytes += size;
    if (msgId !== undefined) this.dedup.set(msgId, { seq, at: now });
    this.applyLimits(now);
    return { stream: this.spec.name, seq, duplicate: false };
  }

  /** The stored message with this sequence, or undefined once discarded. */
  get(seq: number): StreamRecord | undefined {
    this.applyLimits(Date.now());
    const first = this.firstSeq();
    if (seq < first || seq > this.lastSeq) return undefined;
    return this.messages[this.head + (seq - first)];
  }

  /** The first stored message with seq >= from whose subject matches filter. */
  next(from: number, filter: string | undefined): StreamRecord | undefined {
    this.applyLimits(Date.now());
    const first = this.firstSeq();
    for (let i = this.head + Math.max(0, from - first); i < this.messages.length; i++) {
      const message = this.messages[i];
      if (filter === undefined || subjectMatches(filter, message.subject)) return message;
    }
    return undefined;
  }

  /** Up to `limit` stored messages from `from` on, matching filter, stored at or after `sinceMs`. */
  read(from: number, filter: string | undefined, sinceMs: number, limit: number): StreamRecord[] {
    const found: StreamRecord[] = [];
    let seq = from;
    while (found.length < limit) {
      const message = this.next(seq, filter);
      if (!message) break;
      if (message.storedAt >= sinceMs) found.push(message);
      seq = message.seq + 1;
    }
    return found;
  }

  lastSequence(): number {
    return this.lastSeq;
  }

  applyLimits(now: number): void {
    const { maxBytes, maxAgeMs } = this.spec;
    while (this.head < this.messages.length) {
      const oldest = this.messages[this.head];
      const tooBig = maxBytes > 0 && this.bytes > maxBytes;
      const tooOld = maxAgeMs > 0 && now - oldest.storedAt > maxAgeMs;
      if (!tooBig && !tooOld) break;
      this.bytes -= oldest.size;
      this.head++;
    }
    if (this.head > 1024 && this.head * 2 > this.messages.length) {
      this.messages = this.messages.slice(this.head);
      this.head = 0;
    }
    const window = effectiveDuplicateWindowMs(this.spec);
    // Map iteration is insertion order, so the oldest ids come first.
    for (const [id, entry] of this.dedup) {
      if (now - entry.at <= window) break;
      this.dedup.delete(id);
    }
  }
}

function headerBytes(headers: Record<string, string>): number {
  let total = 0;
  for (const key in headers) total += key.length + headers[key].length;
  return total;
}
