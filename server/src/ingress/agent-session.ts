import { randomUUID } from "node:crypto";
import { status as GrpcStatus, type ServerDuplexStream } from "@grpc/grpc-js";
import { AGENT_ID_PATTERN, type Logger } from "@vigil/common";
import {
  AckStatus,
  type AgentMessage,
  type ConfigUpdate,
  type EventBatch,
  type Hello,
  type ServerMessage,
} from "@vigil/proto";
import type { AgentControl, AgentLink } from "../control/agent-link";
import { type AgentIdentity, identityFromHello } from "../normalize/agent-identity";
import { normalizeBatch } from "../normalize/normalize-batch";
import type { EncodedBatch, EventPublisher, PublishedBatch } from "../publish/event-publisher";
import { type AgentRegistry, boundedCounters } from "../registry/agent-registry";
import type { ServerMetrics } from "../server-metrics";
import type { IngressBudget } from "./ingress-budget";
import { TokenBucket } from "./token-bucket";
import { decodeAgentMessage, isBatchMessage, type WireMessage } from "./wire-message";

export interface SessionSettings {
  serverId: string;
  heartbeatIntervalMs: number;
  helloTimeoutMs: number;
  maxBatchEvents: number;
  maxBatchBytes: number;
  /** Messages read from one stream and not yet handled before the stream stops being read. */
  maxPendingMessages: number;
  /** Per-agent event rate (events/s, 0: unlimited) and burst: beyond it reading is delayed, nothing dropped. */
  agentEventsPerSecond: number;
  agentEventsBurst: number;
}

export interface SessionDependencies {
  settings: SessionSettings;
  publisher: EventPublisher;
  registry: AgentRegistry;
  metrics: ServerMetrics;
  logger: Logger;
  /** The server-wide in-flight byte bound every session reads under. */
  budget: IngressBudget;
  /** Agent config and fleet tasks (control/agent-link.ts): told of this stream after Welcome, of its end and of task results. */
  control?: AgentControl;
}

type Stream = ServerDuplexStream<WireMessage, ServerMessage>;

type PauseCause = "stream-backlog" | "server-bytes" | "rate-limit";

/**
 * One agent's Connect stream. Messages are handled strictly in arrival order
 * (a promise chain), so batches are published and acked in sequence order and
 * an ack is only sent once the bus has stored the batch.
 *
 * Backpressure: the stream stops being read (pause(); grpc-js then stops
 * reading the HTTP/2 stream, whose flow-control window stops the agent) while
 * this session holds maxPendingMessages unhandled messages (a slow or absent
 * bus), while the server-wide in-flight bytes are over their bound, or while
 * the agent is over its event rate. Nothing read is dropped.
 */
export class AgentSession {
  private identity: AgentIdentity | undefined;
  private readonly sessionId = randomUUID();
  private chain: Promise<void> = Promise.resolve();
  private closed = false;
  private readonly helloTimer: NodeJS.Timeout;
  private readonly logger: Logger;
  private countersTruncatedLogged = false;
  /** This stream as the control plane sees it, from Welcome on. */
  private link: AgentLink | undefined;
  private pendingMessages = 0;
  private paused = false;
  private rateLimited = false;
  private draining = false;
  private readonly bucket: TokenBucket;
  private readonly onBudgetRoom = () => this.updateFlow();

  constructor(
    private readonly call: Stream,
    private readonly deps: SessionDependencies,
    /** Called once when the stream ends, whatever the reason. */
    private readonly onClosed: () => void = () => undefined,
    /** The enrolled agent the stream authenticated as; its Hello must carry this id. */
    private readonly authenticatedAgentId?: string,
  ) {
    this.logger = deps.logger.child({ session: this.sessionId, peer: call.getPeer() });
    deps.metrics.streams.inc();
    this.helloTimer = setTimeout(
      () => this.fail(GrpcStatus.DEADLINE_EXCEEDED, "no Hello received", "hello-timeout"),
      deps.settings.helloTimeoutMs,
    );
    this.bucket = new TokenBucket(deps.settings.agentEventsPerSecond, deps.settings.agentEventsBurst);
    limitReadAhead(call);
    call.on("data", (wire: WireMessage) => this.onData(wire));
    call.on("end", () => {
      this.close("agent closed the stream");
      // The agent half-closed: finish the call with OK (what it sent unhandled is unacked and resent).
      this.call.end();
    });
    call.on("error", (error) => this.close(`stream error: ${error.message}`));
    call.on("cancelled", () => this.close("cancelled"));
  }

  private onData(wire: WireMessage): void {
    const { budget, metrics } = this.deps;
    const isBatch = isBatchMessage(wire);
    const bytes = wire.byteLength;
    this.pendingMessages++;
    budget.hold(bytes);
    if (isBatch) metrics.acksPending.inc();
    this.updateFlow();
    this.chain = this.chain
      .then(() => {
        if (this.closed) return;
        const decoded = decodeAgentMessage(wire);
        return decoded.ok
          ? this.handle(decoded.message)
          : this.fail(GrpcStatus.INVALID_ARGUMENT, decoded.error, "malformed-message");
      })
      .catch((error: unknown) => this.onHandlerError(error))
      .finally(() => {
        this.pendingMessages--;
        if (isBatch) metrics.acksPending.dec();
        budget.release(bytes);
        this.updateFlow();
      });
  }

  /** Reads the stream while this session and the server are under their bounds; pauses it otherwise. */
  private updateFlow(): void {
    const { budget, settings } = this.deps;
    let cause: PauseCause | undefined;
    if (this.rateLimited) cause = "rate-limit";
    else if (this.pendingMessages >= settings.maxPendingMessages) cause = "stream-backlog";
    else if (budget.exhausted()) cause = "server-bytes";
    if (this.closed) return;
    if (cause === "server-bytes") budget.whenRoom(this.onBudgetRoom);
    if (cause && !this.paused) {
      this.paused = true;
      this.call.pause();
      this.deps.metrics.backpressurePauses.inc({ cause });
    } else if (!cause && this.paused) {
      this.paused = false;
      this.call.resume();
    }
  }

  /** Resolves once every message read so far is handled (published and acked, or refused). */
  settled(): Promise<void> {
    return this.chain;
  }

  /**
   * Tells the agent to move (ServerMessage.drain). The stream stays open: what
   * the agent already sent is still published and acked, and the agent ends
   * the stream once its in-flight batches are acked. A stream not yet past
   * Welcome is ended with UNAVAILABLE instead (false).
   */
  drain(reason: string, reconnectWithinMs: number): boolean {
    if (this.closed || this.draining) return false;
    this.draining = true;
    if (!this.identity) {
      this.fail(GrpcStatus.UNAVAILABLE, `server draining: ${reason}`, "draining");
      return false;
    }
    this.send({ body: { $case: "drain", value: { reason, reconnectWithinMs } } });
    return true;
  }

  private async handle(message: AgentMessage): Promise<void> {
    if (this.closed) return;
    const body = message.body;
    if (!body) return this.fail(GrpcStatus.INVALID_ARGUMENT, "empty AgentMessage", "empty-message");
    switch (body.$case) {
      case "hello":
        return this.onHello(body.value);
      case "batch":
        return this.onBatch(body.value);
      case "heartbeat": {
        const record = this.requireIdentity("Heartbeat");
        if (!record) return;
        const agent = this.deps.registry.get(record.agentId);
        if (agent && body.value.counters) {
          const { counters, dropped } = boundedCounters(body.value.counters);
          agent.counters = counters;
          if (dropped > 0 && !this.countersTruncatedLogged) {
            this.countersTruncatedLogged = true;
            this.logger.warn(
              { agentId: record.agentId, dropped },
              "heartbeat counters beyond the per-agent bound (512 per map, keys up to 128 characters) left out",
            );
          }
        }
        if (agent) agent.lastSeen = new Date().toISOString();
        return;
      }
      case "taskResult": {
        const identity = this.requireIdentity("TaskResult");
        if (!identity) return;
        // The task store completes only a task sent to this agent: an agent cannot answer another's.
        if (this.link) this.deps.control?.taskResult(this.link, body.value);
        return;
      }
      default: {
        const unreachable: never = body;
        return unreachable;
      }
    }
  }

  private onHello(hello: Hello): void {
    if (this.identity) {
      this.fail(GrpcStatus.INVALID_ARGUMENT, "second Hello on one stream", "duplicate-hello");
      return;
    }
    if (!AGENT_ID_PATTERN.test(hello.agentId)) {
      this.fail(
        GrpcStatus.INVALID_ARGUMENT,
        `Hello.agent_id "${hello.agentId.slice(0, 80)}" must match ${AGENT_ID_PATTERN}`,
        "bad-agent-id",
      );
      return;
    }
    if (this.authenticatedAgentId !== undefined && hello.agentId !== this.authenticatedAgentId) {
      this.fail(
        GrpcStatus.PERMISSION_DENIED,
        `Hello.agent_id "${hello.agentId}" is not the agent id this credential was issued to`,
        "agent-id-mismatch",
      );
      return;
    }
    clearTimeout(this.helloTimer);
    this.identity = identityFromHello(hello);
    this.deps.registry.connected(this.identity, this.sessionId, hello.collectors, hello.lastAckedSequence);
    this.logger.info(
      {
        agentId: hello.agentId,
        hostname: hello.hostname,
        version: hello.agentVersion,
        collectors: hello.collectors,
      },
      "agent connected",
    );
    const { settings } = this.deps;
    this.send({
      body: {
        $case: "welcome",
        value: {
          serverId: settings.serverId,
          sessionId: this.sessionId,
          heartbeatIntervalMs: settings.heartbeatIntervalMs,
          maxBatchEvents: settings.maxBatchEvents,
          maxBatchBytes: settings.maxBatchBytes,
        },
      },
    });
    this.link = {
      agentId: hello.agentId,
      sessionId: this.sessionId,
      labels: this.identity.labels,
      groups: hello.groups.slice(0, 64),
      sendConfig: (update) => this.pushConfig(update),
      sendTask: (task) => {
        if (this.closed) return false;
        this.send({ body: { $case: "task", value: task } });
        return true;
      },
    };
    this.deps.control?.attached(this.link);
  }

  /** The authenticated agent id, else the one its Hello gave (undefined before Hello). */
  agentId(): string | undefined {
    return this.authenticatedAgentId ?? this.identity?.agentId;
  }

  /** Ends the stream with `code` (e.g. PERMISSION_DENIED when the agent is revoked). */
  refuse(code: GrpcStatus, details: string, reason: string): void {
    this.fail(code, details, reason);
  }

  /** True once the agent said Hello and got Welcome, until the stream ends. */
  isWelcomed(): boolean {
    return !this.closed && this.identity !== undefined;
  }

  /**
   * Sends a ConfigUpdate (the agent policy's full settings) when the agent is
   * past Welcome and the stream is open; false otherwise (an agent that says
   * Hello later gets the current version with its Welcome).
   */
  pushConfig(update: ConfigUpdate): boolean {
    if (this.closed || !this.identity) return false;
    this.send({ body: { $case: "config", value: update } });
    const record = this.deps.registry.get(this.identity.agentId);
    if (record && record.sessionId === this.sessionId) record.policyVersion = update.version;
    this.logger.debug({ agentId: this.identity.agentId, version: update.version }, "agent policy sent");
    return true;
  }

  private async onBatch(batch: EventBatch): Promise<void> {
    const identity = this.requireIdentity("EventBatch");
    if (!identity) return;
    const { metrics, registry, settings } = this.deps;
    const record = registry.get(identity.agentId);
    if (record && batch.sequence <= record.lastSequence) {
      metrics.batches.inc({ status: "duplicate" });
      return this.ack(batch.sequence, AckStatus.ACK_STATUS_DUPLICATE, "");
    }
    if (batch.events.length > settings.maxBatchEvents) {
      metrics.batches.inc({ status: "rejected" });
      this.logger.warn(
        { sequence: batch.sequence, events: batch.events.length },
        "batch rejected: too many events",
      );
      return this.ack(
        batch.sequence,
        AckStatus.ACK_STATUS_REJECTED,
        `batch has ${batch.events.length} events; the limit is ${settings.maxBatchEvents}`,
      );
    }
    const waitMs = this.bucket.take(batch.events.length);
    if (waitMs > 0) {
      // Over the agent's rate: hold this batch and stop reading until its tokens are there.
      this.rateLimited = true;
      this.updateFlow();
      await new Promise((resolve) => setTimeout(resolve, waitMs));
      this.rateLimited = false;
      this.updateFlow();
      if (this.closed) return;
    }
    const sequence = batch.sequence;
    // From here on only the encoded bytes are kept: the decoded and canonical events
    // become garbage before the bus ack is awaited instead of surviving into the old heap.
    const { encoded, events } = this.normalizeAndEncode(identity, batch);
    const stopTimer = metrics.publishSeconds.startTimer();
    let published: PublishedBatch;
    try {
      published = await this.deps.publisher.send(encoded);
    } catch (error) {
      // Not acked: the agent keeps the batch and resends it on its next stream.
      metrics.batches.inc({ status: "failed" });
      this.logger.error({ err: error, sequence }, "publish failed; ending stream so the agent resends");
      return this.fail(GrpcStatus.UNAVAILABLE, "event bus unavailable, retry later", "bus-unavailable");
    }
    stopTimer();
    if (published.oversizedEvents > 0) {
      metrics.eventsDropped.inc({ reason: "larger-than-bus-message" }, published.oversizedEvents);
      this.logger.warn(
        { sequence, dropped: published.oversizedEvents },
        "events larger than the bus message limit dropped",
      );
    }
    if (record) {
      record.lastSequence = sequence;
      record.lastSeen = new Date().toISOString();
      record.eventsReceived += events;
    }
    metrics.events.inc(events - published.oversizedEvents);
    metrics.batches.inc({ status: published.duplicate ? "duplicate" : "stored" });
    this.ack(
      sequence,
      published.duplicate ? AckStatus.ACK_STATUS_DUPLICATE : AckStatus.ACK_STATUS_STORED,
      "",
    );
  }

  private normalizeAndEncode(
    identity: AgentIdentity,
    batch: EventBatch,
  ): { encoded: EncodedBatch; events: number } {
    const receivedUs = Date.now() * 1000;
    const normalized = normalizeBatch(identity, batch.sequence, batch.events, receivedUs);
    if (normalized.withoutPayload > 0) {
      this.deps.metrics.eventsDropped.inc({ reason: "no-payload" }, normalized.withoutPayload);
    }
    const { publisher } = this.deps;
    const encoded = publisher.encode(
      identity,
      batch.sequence,
      normalized.events,
      receivedUs,
      normalized.parents,
    );
    return { encoded, events: normalized.events.length };
  }

  private requireIdentity(what: string): AgentIdentity | undefined {
    if (!this.identity) this.fail(GrpcStatus.FAILED_PRECONDITION, `${what} before Hello`, "no-hello");
    return this.identity;
  }

  private ack(sequence: number, status: AckStatus, error: string): void {
    this.send({ body: { $case: "ack", value: { sequence, status, error } } });
  }

  private send(message: ServerMessage): void {
    if (!this.closed) this.call.write(message);
  }

  private fail(code: GrpcStatus, details: string, reason: string): void {
    if (this.closed) return;
    this.deps.metrics.protocolErrors.inc({ reason });
    this.logger.warn({ reason, details }, "ending agent stream");
    this.call.emit("error", { code, details });
  }

  private onHandlerError(error: unknown): void {
    this.logger.error({ err: error }, "unexpected error handling agent message");
    this.fail(GrpcStatus.INTERNAL, "internal error", "internal");
  }

  private close(why: string): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.helloTimer);
    this.deps.budget.forget(this.onBudgetRoom);
    this.deps.metrics.streams.dec();
    this.onClosed();
    if (this.identity) {
      if (this.link) this.deps.control?.detached(this.link);
      this.deps.registry.disconnected(this.identity.agentId, this.sessionId);
      this.logger.info({ agentId: this.identity.agentId, why }, "agent disconnected");
    }
  }
}

/**
 * grpc-js reads and decodes messages ahead of the handler until the call's
 * readable buffer holds its highWaterMark: 16 in object mode, and grpc-js has
 * no option for it. Those decoded batches sit outside every bound (a paused
 * stream still fills up to 16; 10,000 paused agents held GBs in
 * bench/fleet-sim.mts), so the read-ahead is cut to one message.
 */
function limitReadAhead(call: Stream): void {
  const state = (call as unknown as { _readableState?: { highWaterMark: number } })._readableState;
  if (state && typeof state.highWaterMark === "number") state.highWaterMark = 1;
}
