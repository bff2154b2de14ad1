import { readFileSync } from "node:fs";
import { status as GrpcStatus, Server, ServerCredentials, type ServerDuplexStream } from "@grpc/grpc-js";
import { ErrorCodes, VigilError } from "@vigil/common";
import {
  type AgentMessage,
  AgentServiceService,
  type ConfigUpdate,
  EnrollmentServiceService,
  type ServerMessage,
} from "@vigil/proto";
import type { ServerConfig } from "../config";
import { enrollmentService } from "../enrollment/enrollment-service";
import type { EnrollmentStore } from "../enrollment/enrollment-store";
import { AgentSession, type SessionDependencies } from "./agent-session";
import { connectAuthenticator } from "./connect-auth";

export interface GrpcIngress {
  readonly port: number;
  /** Agents past Welcome on this instance. */
  connectedAgents(): number;
  /** Sends `update` to every agent connected here (new policy version); returns how many got it. */
  pushConfig(update: ConfigUpdate): number;
  /** Sends `agentId` its queued tasks when it is connected here; returns how many went out. */
  deliverTasks(agentId: string): number;
  /** Ends the streams of `agentId` on this instance with PERMISSION_DENIED (revocation); returns how many. */
  disconnectAgent(agentId: string, details: string): number;
  /** Ends the streams of `agentId` on this instance with ABORTED (a newer stream of the agent is on another server); returns how many. */
  supersedeAgent(agentId: string, details: string): number;
  /** Stop accepting, end open streams after a grace period. */
  close(graceMs?: number): Promise<void>;
}

/**
 * The agent-facing gRPC endpoint: TLS (mutual when a client CA is set), the
 * Enroll RPC, Connect authentication (agent credential, or the legacy shared
 * token), size limits.
 */
export async function startGrpcIngress(
  config: ServerConfig["grpc"],
  deps: SessionDependencies,
  enrollment?: EnrollmentStore,
): Promise<GrpcIngress> {
  const server = new Server({
    "grpc.max_receive_message_length": config.maxBatchBytes,
    "grpc.max_send_message_length": 1024 * 1024,
    "grpc.keepalive_time_ms": 30_000,
    "grpc.keepalive_timeout_ms": 10_000,
    "grpc.http2.min_ping_interval_without_data_ms": 10_000,
  });
  const authenticate = connectAuthenticator({ store: enrollment, legacyToken: config.agentToken });
  const sessions = new Set<AgentSession>();
  server.addService(
    EnrollmentServiceService,
    enrollmentService(enrollment, deps.metrics, deps.logger.child({ component: "enrollment" })),
  );
  server.addService(AgentServiceService, {
    connect: (call: ServerDuplexStream<AgentMessage, ServerMessage>) => {
      const auth = authenticate(call.metadata);
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
    deliverTasks: (agentId) => {
      let sent = 0;
      for (const session of sessions) sent += session.deliverTasks(agentId);
      return sent;
    },
    pushConfig: (update) => {
      let pushed = 0;
      for (const session of sessions) if (session.pushConfig(update)) pushed++;
      deps.logger.info(
        { version: update.version, agents: pushed },
        "agent policy pushed to connected agents",
      );
      return pushed;
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
    close: (graceMs = 2000) =>
      new Promise<void>((resolve) => {
        const force = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, graceMs);
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      }),
  };
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
