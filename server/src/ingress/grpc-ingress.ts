import { readFileSync } from "node:fs";
import { status as GrpcStatus, Server, ServerCredentials, type ServerDuplexStream } from "@grpc/grpc-js";
import { ErrorCodes, VigilError } from "@vigil/common";
import { EnrollmentServiceService, type ServerMessage } from "@vigil/proto";
import type { ServerConfig } from "../config";
import { enrollmentService } from "../enrollment/enrollment-service";
import type { EnrollmentStore } from "../enrollment/enrollment-store";
import { AgentSession, type SessionDependencies } from "./agent-session";
import { connectAuthenticator } from "./connect-auth";
import { IngressBudget } from "./ingress-budget";
import { agentConnectDefinition, type WireMessage } from "./wire-message";

export interface GrpcIngress {
  readonly port: number;
  /** Agents past Welcome on this instance. */
  connectedAgents(): number;
  /** Ends the streams of `agentId` on this instance with PERMISSION_DENIED (revocation); returns how many. */
  disconnectAgent(agentId: string, details: string): number;
  /** Ends the streams of `agentId` on this instance with ABORTED (a newer stream of the agent is on another server); returns how many. */
  supersedeAgent(agentId: string, details: string): number;
  /**
   * Graceful drain, then close: new streams are refused, every agent is sent
   * ServerMessage.drain, and open streams get graceMs to finish their
   * in-flight batches (publish + ack) and leave; then the rest is cut.
   * graceMs 0 cuts at once (agents resend what was not acked).
   */
  close(graceMs?: number): Promise<void>;
}

/**
 * The agent-facing gRPC endpoint: TLS (mutual when a client CA is set), the
 * Enroll RPC, Connect authentication (agent credential, or the legacy shared
 * token), size limits.
 */
export async function startGrpcIngress(
  config: ServerConfig["grpc"],
  sessionDeps: Omit<SessionDependencies, "budget">,
  enrollment?: EnrollmentStore,
): Promise<GrpcIngress> {
  const deps: SessionDependencies = {
    ...sessionDeps,
    budget: new IngressBudget(config.maxInFlightBytes, (held) => sessionDeps.metrics.inFlightBytes.set(held)),
  };
  const server = new Server({
    "grpc.max_receive_message_length": config.maxBatchBytes,
    "grpc.max_send_message_length": 1024 * 1024,
    "grpc.keepalive_time_ms": 30_000,
    "grpc.keepalive_timeout_ms": 10_000,
    "grpc.http2.min_ping_interval_without_data_ms": 10_000,
  });
  const authenticate = connectAuthenticator({ store: enrollment, legacyToken: config.agentToken });
  const sessions = new Set<AgentSession>();
  let draining = false;
  server.addService(
    EnrollmentServiceService,
    enrollmentService(enrollment, deps.metrics, deps.logger.child({ component: "enrollment" })),
  );
  server.addService(agentConnectDefinition, {
    connect: async (call: ServerDuplexStream<WireMessage, ServerMessage>) => {
      if (draining) {
        deps.metrics.protocolErrors.inc({ reason: "draining" });
        call.emit("error", {
          code: GrpcStatus.UNAVAILABLE,
          details: "server draining: connect to another server",
        });
        return;
      }
      const auth = await authenticate(call.metadata, call.getPeer());
      if (!auth.ok) {
        deps.metrics.protocolErrors.inc({ reason: auth.reason });
        deps.logger.warn(
          { peer: call.getPeer(), agentId: auth.agentId, reason: auth.reason },
          `agent stream refused: ${auth.details}`,
        );
        call.emit("error", { code: auth.code, details: auth.details });
        return;
      }
      const session: AgentSession = new AgentSession(
        call,
        deps,
        () => sessions.delete(session),
        auth.agentId,
      );
      sessions.add(session);
    },
  });
  const credentials = config.tls ? tlsCredentials(config.tls) : ServerCredentials.createInsecure();
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`${bracketIpv6(config.host)}:${config.port}`, credentials, (error, boundPort) =>
      error ? reject(error) : resolve(boundPort),
    );
  });
  deps.logger.info({ host: config.host, port, tls: Boolean(config.tls) }, "gRPC ingress listening");
  return {
    port,
    connectedAgents: () => {
      let count = 0;
      for (const session of sessions) if (session.isWelcomed()) count++;
      return count;
    },
    disconnectAgent: (agentId, details) => {
      let ended = 0;
      for (const session of sessions) {
        if (session.agentId() !== agentId) continue;
        session.refuse(GrpcStatus.PERMISSION_DENIED, details, "revoked");
        ended++;
      }
      return ended;
    },
    supersedeAgent: (agentId, details) => {
      let ended = 0;
      for (const session of sessions) {
        if (session.agentId() !== agentId || !session.isWelcomed()) continue;
        session.refuse(GrpcStatus.ABORTED, details, "superseded");
        ended++;
      }
      return ended;
    },
    close: async (graceMs = 2000) => {
      draining = true;
      const deadline = Date.now() + graceMs;
      if (graceMs > 0) {
        let told = 0;
        for (const session of sessions)
          if (session.drain("server shutting down", config.drainReconnectWithinMs)) told++;
        deps.logger.info({ agents: told, graceMs }, "draining: agents told to move");
        // Agents end their streams once their in-flight batches are acked.
        while (sessions.size > 0 && Date.now() < deadline) await sleep(Math.min(50, deadline - Date.now()));
        // Whatever is still read gets published and acked within the grace period.
        const settled = Promise.all([...sessions].map((session) => session.settled()));
        await settledWithin(settled, Math.max(0, deadline - Date.now()));
      }
      await new Promise<void>((resolve) => {
        const force = setTimeout(
          () => {
            server.forceShutdown();
            resolve();
          },
          Math.max(0, deadline - Date.now()),
        );
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      });
      if (sessions.size > 0) deps.logger.warn({ streams: sessions.size }, "drain grace over: streams cut");
    },
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits for `promise` at most `ms`; the timer is cleared when the promise wins, so close() leaves none behind. */
async function settledWithin(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([promise, new Promise((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}

function tlsCredentials(tls: NonNullable<ServerConfig["grpc"]["tls"]>): ServerCredentials {
  const read = (path: string, key: string) => {
    try {
      return readFileSync(path);
    } catch (cause) {
      throw new VigilError(ErrorCodes.CONFIG_INVALID, `grpc.tls.${key}: cannot read ${path}`, { cause });
    }
  };
  const ca = tls.clientCaFile ? read(tls.clientCaFile, "clientCaFile") : null;
  return ServerCredentials.createSsl(
    ca,
    [{ cert_chain: read(tls.certFile, "certFile"), private_key: read(tls.keyFile, "keyFile") }],
    Boolean(ca),
  );
}

function bracketIpv6(host: string): string {
  return host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
}
