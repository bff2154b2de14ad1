import { readFileSync } from "node:fs";
import {
  type ChannelCredentials,
  type ClientDuplexStream,
  credentials,
  makeGenericClientConstructor,
  type ServiceError,
  status,
} from "@grpc/grpc-js";
import type { Logger } from "@vigil/common";
import {
  AckStatus,
  type AgentCounters,
  type AgentMessage,
  AgentMessage as AgentMessageCodec,
  AgentServiceService,
  type BatchAck,
  type ConfigUpdate,
  type Event,
  type Hello,
  type ServerMessage,
  type Task,
  type TaskResult,
  type Welcome,
} from "@vigil/proto";
import type { AgentConfig } from "../config";
import type { LinkServers } from "../discovery/types";
import type { LinkAuth } from "../enrollment/agent-auth";
import { overflowEvent } from "../spool/overflow-event";
import type { BatchSpool } from "../spool/types";
import { backoffDelayMs } from "./backoff";

export interface ServerLinkOptions {
  /** Whom to dial, and when to leave (discovery: static list, DNS or Consul, rendezvous-ordered). */
  servers: LinkServers;
  /** Authenticates each stream: the agent's credential (enrolling first if needed), or the legacy token. */
  auth: LinkAuth;
  tls: AgentConfig["tls"];
  transport: AgentConfig["transport"];
  /** Built fresh for every stream: carries lastAckedSequence. */
  hello: (lastAckedSequence: number) => Hello;
  counters: () => AgentCounters;
  /** Runs a server task; the result goes back on the same stream (dropped if that stream is gone:
   *  the server expires the task). Must not reject. */
  onTask: (task: Task) => Promise<TaskResult>;
  /** A ConfigUpdate from the server (after every Welcome, and whenever the policy changes). */
  onConfig: (update: ConfigUpdate) => void;
  logger: Logger;
  /** Where batches wait for their ack (disk by default); the link neither opens nor closes it. */
  spool: BatchSpool;
}

export interface LinkCounters {
  batchesSent: number;
  batchesAcked: number;
  batchesResent: number;
  batchesRejected: number;
  eventsAcked: number;
  /** Events the spool dropped to stay within its bound (each eviction is reported as a SpoolOverflow event). */
  eventsDroppedOverflow: number;
  overflowReports: number;
  connects: number;
  /** Streams or enrolments the server refused (revoked, unknown credential, bad token). */
  refusals: number;
}

/** What the link writes: a message, or one already encoded (a spooled batch, sent as the spool holds it). */
type Outgoing = AgentMessage | Buffer;
type Stream = ClientDuplexStream<Outgoing, ServerMessage>;

/**
 * The generated client, except that an already encoded AgentMessage goes out
 * as is: a spooled batch is encoded once (into the spool) and not again, and
 * no decoded copy of it has to be kept for sending.
 */
const AgentLinkClient = makeGenericClientConstructor(
  {
    connect: {
      ...AgentServiceService.connect,
      requestSerialize: (value: Outgoing): Buffer => {
        if (Buffer.isBuffer(value)) return value;
        const bytes = AgentMessageCodec.encode(value).finish();
        return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      },
    },
  },
  "vigil.v1.AgentService",
);

/** AgentMessage.body = batch (field 2, length-delimited), around an encoded EventBatch. */
function batchMessage(encodedBatch: Uint8Array): Buffer {
  let length = encodedBatch.byteLength;
  let varintBytes = 1;
  while (length >= 0x80) {
    length = Math.floor(length / 0x80);
    varintBytes++;
  }
  const message = Buffer.allocUnsafe(1 + varintBytes + encodedBatch.byteLength);
  message[0] = 0x12;
  let at = 1;
  length = encodedBatch.byteLength;
  while (length >= 0x80) {
    message[at++] = (length & 0x7f) | 0x80;
    length = Math.floor(length / 0x80);
  }
  message[at++] = length;
  message.set(encodedBatch, at);
  return message;
}

/**
 * The agent's one gRPC stream to a server. Batches stay in the spool until
 * acked (at most maxInFlightBatches on the stream: a slow server slows the
 * sending, the spool absorbs the rest and the collectors never wait); when a stream dies (server gone, ack timeout, network cut) the
 * link reconnects with jittered backoff, to the next server discovery offers,
 * and resends every unacked batch in order. When discovery says to leave (the
 * server left the healthy set, or rebalancing) it moves at once, without backoff.
 * When the server drains (ServerMessage.drain: it is shutting down), the link
 * sends nothing new, waits for the acks of what is in flight, ends the stream
 * and dials another server (the draining one is passed over for the failed
 * cooldown) after a random delay below the server's reconnect_within_ms.
 */
export class ServerLink {
  readonly counters: LinkCounters = {
    batchesSent: 0,
    batchesAcked: 0,
    batchesResent: 0,
    batchesRejected: 0,
    eventsAcked: 0,
    eventsDroppedOverflow: 0,
    overflowReports: 0,
    connects: 0,
    refusals: 0,
  };
  private readonly pending: BatchSpool;
  private readonly channelCredentials: ChannelCredentials;
  private readonly channelOptions: Record<string, string | number>;
  private stream: Stream | undefined;
  private streamReady = false;
  private stopped = false;
  /** Set when discovery asked the link to leave its server: the next dial is not a failure. */
  private leaving = false;
  private drainWaiters: Array<() => void> = [];
  private loop: Promise<void> | undefined;
  private wakeBackoff: (() => void) | undefined;
  private connected = false;
  private lastAckAt = Date.now();
  /** Set when the server refused this agent: the next dial waits the longest backoff. */
  private refused = false;
  /** Set when the server said it is draining: the next dial avoids it and waits a random part of this. */
  private drained: { reconnectWithinMs: number } | undefined;

  constructor(private readonly options: ServerLinkOptions) {
    this.pending = options.spool;
    this.channelCredentials = buildCredentials(options.tls);
    this.channelOptions = {
      "grpc.keepalive_time_ms": 30_000,
      "grpc.keepalive_timeout_ms": 10_000,
      "grpc.max_receive_message_length": 4 * 1024 * 1024,
      ...(options.tls?.serverName ? { "grpc.ssl_target_name_override": options.tls.serverName } : {}),
    };
    options.servers.onLeave((reason) => {
      if (!this.stream) return;
      this.options.logger.info({ reason }, "leaving server");
      this.leaving = true;
      this.stream.cancel();
    });
  }

  start(): void {
    this.loop ??= this.run();
  }

  isConnected(): boolean {
    return this.connected;
  }

  /** Spools a batch and sends what the in-flight window allows; never waits for the server. */
  submit(events: Event[]): void {
    this.pending.append(events);
    const overflow = this.pending.takeOverflow();
    if (overflow) {
      // The loss travels as an event of its own, in the spool like any other.
      this.counters.eventsDroppedOverflow += overflow.eventsLost;
      this.counters.overflowReports++;
      this.options.logger.warn(
        { eventsLost: overflow.eventsLost, lostByReason: overflow.lostByReason },
        "spool bound reached: events dropped",
      );
      this.pending.append([overflowEvent(overflow, Date.now() * 1000)]);
    }
    this.pump();
  }

  pendingBatches(): number {
    return this.pending.size();
  }

  pendingEvents(): number {
    return this.pending.eventCount();
  }

  /** Resolves true once every submitted batch is acked, false on timeout. */
  whenDrained(timeoutMs: number): Promise<boolean> {
    if (this.pending.size() === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.drainWaiters = this.drainWaiters.filter((waiter) => waiter !== done);
        resolve(false);
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        resolve(true);
      };
      this.drainWaiters.push(done);
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wakeBackoff?.();
    this.stream?.cancel();
    await this.loop;
  }

  private async run(): Promise<void> {
    let failures = 0;
    let failed: string | undefined;
    while (!this.stopped) {
      const server = this.options.servers.next(failed);
      const started = Date.now();
      if (server) {
        this.leaving = false;
        this.refused = false;
        this.drained = undefined;
        try {
          await this.session(server);
        } catch (error) {
          if (!this.noteRefusal(server, error as ServiceError)) {
            this.options.logger.warn({ server, err: error }, "server stream failed");
          }
        }
      }
      if (this.stopped) break;
      const drained = server !== undefined ? this.drained : undefined;
      const moving = server !== undefined && this.leaving;
      // A stream that lived a while was a success, and so was a drain: start backoff over.
      failures = moving || drained || Date.now() - started > 30_000 ? 0 : failures + 1;
      // A draining server counts as failed: selection passes it over for the cooldown.
      failed = moving && !drained ? undefined : server;
      const { backoffInitialMs, backoffMaxMs } = this.options.transport;
      // Drained: within the server's window, at random, so its agents do not all land at once.
      // Told to move: go at once (a little jitter so a server's agents do not all land together).
      // Refused (revoked, bad credential or token): retrying soon cannot help, so wait the longest.
      const delay = drained
        ? Math.floor(Math.random() * drained.reconnectWithinMs)
        : moving
          ? Math.floor(Math.random() * backoffInitialMs)
          : this.refused
            ? backoffDelayMs(Number.MAX_SAFE_INTEGER, backoffInitialMs, backoffMaxMs)
            : backoffDelayMs(failures, backoffInitialMs, backoffMaxMs);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, delay);
        // No server known yet: a new candidate list ends the wait early.
        if (!server) void this.options.servers.changed(delay).then(resolve);
        this.wakeBackoff = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wakeBackoff = undefined;
    }
  }

  /**
   * A refusal (UNAUTHENTICATED, PERMISSION_DENIED, ALREADY_EXISTS: revoked,
   * unknown credential, bad enrollment token) is logged as an error and makes
   * the next attempt wait the longest backoff. True when `error` was one.
   */
  private noteRefusal(server: string, error: ServiceError): boolean {
    const refusal =
      error?.code === status.UNAUTHENTICATED ||
      error?.code === status.PERMISSION_DENIED ||
      error?.code === status.ALREADY_EXISTS;
    if (!refusal) return false;
    this.refused = true;
    this.counters.refusals++;
    this.options.logger.error(
      { server, code: status[error.code], details: error.details },
      `server refused this agent: ${error.details}`,
    );
    this.options.auth.refused(error.code, error.details);
    return true;
  }

  private async session(server: string): Promise<void> {
    const { transport, logger } = this.options;
    const metadata = await this.options.auth.metadata(server, this.channelCredentials, this.channelOptions);
    if (this.stopped) return;
    const client = new AgentLinkClient(server, this.channelCredentials, this.channelOptions);
    const stream = (client as unknown as { connect(metadata: unknown): Stream }).connect(metadata);
    this.stream = stream;
    this.pending.rewind();
    return new Promise<void>((resolve) => {
      let heartbeat: NodeJS.Timeout | undefined;
      const welcomeTimer = setTimeout(() => {
        logger.warn({ server }, "no Welcome from server in time");
        stream.cancel();
      }, transport.connectTimeoutMs);
      const ackWatch = setInterval(
        () => {
          if (this.pending.inFlight() > 0 && Date.now() - this.lastAckAt > transport.ackTimeoutMs) {
            logger.warn({ server, inFlight: this.pending.inFlight() }, "ack timeout: reconnecting to resend");
            stream.cancel();
          }
        },
        Math.min(1000, transport.ackTimeoutMs),
      );
      let drainTimer: NodeJS.Timeout | undefined;
      const finish = (why: string) => {
        clearTimeout(welcomeTimer);
        clearTimeout(drainTimer);
        clearInterval(ackWatch);
        if (heartbeat) clearInterval(heartbeat);
        if (this.connected) {
          logger.info({ server, why }, "disconnected from server");
          this.options.servers.connectedTo(undefined);
        }
        this.connected = false;
        this.streamReady = false;
        this.stream = undefined;
        this.pending.rewind();
        client.close();
        resolve();
      };
      stream.on("data", (message: ServerMessage) => {
        const body = message.body;
        if (!body) return;
        switch (body.$case) {
          case "welcome":
            clearTimeout(welcomeTimer);
            heartbeat = setInterval(
              () => this.sendHeartbeat(),
              Math.max(1000, body.value.heartbeatIntervalMs),
            );
            this.onWelcome(server, body.value);
            return;
          case "ack":
            this.onAck(body.value);
            return;
          case "config":
            this.options.onConfig(body.value);
            return;
          case "drain":
            // The server is going away: send nothing new, let it ack what is in
            // flight, then end the stream (onAck). Whatever stays unacked is
            // still spooled and resent wherever the agent reconnects.
            logger.info(
              { server, reason: body.value.reason, inFlight: this.pending.inFlight() },
              "server is draining: moving to another server",
            );
            this.drained = { reconnectWithinMs: body.value.reconnectWithinMs };
            this.streamReady = false;
            if (this.pending.inFlight() === 0) stream.cancel();
            else drainTimer = setTimeout(() => stream.cancel(), transport.ackTimeoutMs);
            return;
          case "task":
            void this.options.onTask(body.value).then((result) => {
              if (this.stream === stream) stream.write({ body: { $case: "taskResult", value: result } });
            });
            return;
          default: {
            const unreachable: never = body;
            return unreachable;
          }
        }
      });
      stream.on("error", (error: ServiceError) => {
        this.noteRefusal(server, error);
        finish(error.message);
      });
      stream.on("end", () => finish("server ended the stream"));
      stream.write({ body: { $case: "hello", value: this.options.hello(this.pending.lastAckedSequence()) } });
    });
  }

  private onWelcome(server: string, welcome: Welcome): void {
    this.counters.connects++;
    this.connected = true;
    this.streamReady = true;
    this.lastAckAt = Date.now();
    this.options.logger.info(
      { server, serverId: welcome.serverId, pendingBatches: this.pending.size() },
      "connected to server",
    );
    this.options.servers.connectedTo(server);
    this.pump();
  }

  private onAck(ack: BatchAck): void {
    this.lastAckAt = Date.now();
    const batch = this.pending.acknowledge(ack.sequence);
    if (!batch) return;
    if (ack.status === AckStatus.ACK_STATUS_REJECTED) {
      this.counters.batchesRejected++;
      this.options.logger.error({ sequence: ack.sequence, error: ack.error }, "server rejected batch");
    } else {
      this.counters.batchesAcked++;
      this.counters.eventsAcked += batch.events;
    }
    // Draining server: leave once it acked everything in flight.
    if (this.drained && this.pending.inFlight() === 0) this.stream?.cancel();
    if (this.pending.size() === 0) {
      const waiters = this.drainWaiters;
      this.drainWaiters = [];
      for (const waiter of waiters) waiter();
    }
    this.pump();
  }

  /** Fills the in-flight window from the pending queue. */
  private pump(): void {
    if (!this.streamReady || !this.stream) return;
    for (;;) {
      const batch = this.pending.takeNextToSend(this.options.transport.maxInFlightBatches);
      if (!batch) return;
      if (this.pending.inFlight() === 1) this.lastAckAt = Date.now();
      this.counters.batchesSent++;
      if (batch.attempts > 1) this.counters.batchesResent++;
      this.stream.write(
        batch.encoded
          ? batchMessage(batch.encoded)
          : { body: { $case: "batch", value: { sequence: batch.sequence, events: batch.events } } },
      );
    }
  }

  private sendHeartbeat(): void {
    if (!this.streamReady || !this.stream) return;
    this.stream.write({
      body: {
        $case: "heartbeat",
        value: { timestampUs: Date.now() * 1000, counters: this.options.counters() },
      },
    });
  }
}

function buildCredentials(tls: AgentConfig["tls"]): ChannelCredentials {
  if (!tls) return credentials.createInsecure();
  const read = (path: string | undefined) => (path ? readFileSync(path) : null);
  return credentials.createSsl(read(tls.caFile), read(tls.keyFile), read(tls.certFile));
}
