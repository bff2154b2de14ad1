import { status as GrpcStatus, type ServerUnaryCall, type sendUnaryData } from "@grpc/grpc-js";
import { AGENT_ID_PATTERN, type Logger } from "@vigil/common";
import type { EnrollmentServiceServer, EnrollRequest, EnrollResponse } from "@vigil/proto";
import type { ServerMetrics } from "../server-metrics";
import type { EnrollmentStore } from "./enrollment-store";
import { peerAddress } from "./source-rate-limit";
import type { EnrollRefusal } from "./types";

const STATUS_BY_REFUSAL: Record<EnrollRefusal, GrpcStatus> = {
  "token-invalid": GrpcStatus.UNAUTHENTICATED,
  "token-expired": GrpcStatus.UNAUTHENTICATED,
  "token-used": GrpcStatus.UNAUTHENTICATED,
  "token-revoked": GrpcStatus.UNAUTHENTICATED,
  "agent-revoked": GrpcStatus.PERMISSION_DENIED,
  "agent-exists": GrpcStatus.ALREADY_EXISTS,
};

/**
 * The Enroll RPC: enrollment token + agent id → per-agent credential. The
 * token and the credential never reach a log line; refusals are logged with
 * the token's public id when the token was found. Each call spends a token of
 * the caller address's bucket (store.sourceLimit): a flood is answered
 * RESOURCE_EXHAUSTED without touching the enrolment bucket.
 */
export function enrollmentService(
  store: EnrollmentStore | undefined,
  metrics: ServerMetrics,
  logger: Logger,
): EnrollmentServiceServer {
  return {
    enroll: (
      call: ServerUnaryCall<EnrollRequest, EnrollResponse>,
      callback: sendUnaryData<EnrollResponse>,
    ) => {
      const request = call.request;
      const peer = call.getPeer();
      if (!store) {
        callback({
          code: GrpcStatus.UNIMPLEMENTED,
          details: "this server does not enrol agents (enrollment.enabled is off)",
        });
        return;
      }
      const source = peerAddress(peer);
      const limited = store.sourceLimit.take(source);
      if (!limited.allowed) {
        metrics.enrollments.inc({ outcome: "rate-limited" });
        logger.warn(
          { peer, agentId: request.agentId },
          "enrolment refused: rate limit of the source address",
        );
        callback({
          code: GrpcStatus.RESOURCE_EXHAUSTED,
          details: `too many enrolment attempts from ${source}: retry in ${Math.ceil(limited.retryAfterMs / 1000)} s`,
        });
        return;
      }
      if (!AGENT_ID_PATTERN.test(request.agentId) || request.enrollmentToken.length === 0) {
        metrics.enrollments.inc({ outcome: "bad-request" });
        callback({
          code: GrpcStatus.INVALID_ARGUMENT,
          details: `agent_id must match ${AGENT_ID_PATTERN} and enrollment_token must be set`,
        });
        return;
      }
      store
        .enroll(request.enrollmentToken, {
          agentId: request.agentId,
          hostname: request.hostname,
          facts: {
            osName: request.osName,
            osVersion: request.osVersion,
            kernelRelease: request.kernelRelease,
            architecture: request.architecture,
            agentVersion: request.agentVersion,
            ipAddresses: request.ipAddresses.slice(0, 64),
          },
        })
        .then(
          (outcome) => {
            if (!outcome.ok) {
              metrics.enrollments.inc({ outcome: outcome.refusal });
              logger.warn(
                { agentId: request.agentId, peer, reason: outcome.refusal, tokenId: outcome.tokenId },
                "enrolment refused",
              );
              callback({ code: STATUS_BY_REFUSAL[outcome.refusal], details: outcome.message });
              return;
            }
            metrics.enrollments.inc({ outcome: "enrolled" });
            logger.info(
              {
                agentId: request.agentId,
                hostname: request.hostname,
                peer,
                tokenId: outcome.tokenId,
                kind: outcome.kind,
              },
              "agent enrolled",
            );
            callback(null, {
              agentId: request.agentId,
              credential: outcome.credential,
              enrolledAtUs: outcome.enrolledAtMs * 1000,
            });
          },
          (error: unknown) => {
            // The enrolment bucket is unreachable (NATS down) or contended: the agent retries.
            metrics.enrollments.inc({ outcome: "store-unavailable" });
            logger.error({ err: error, agentId: request.agentId, peer }, "enrolment failed: enrolment store");
            callback({ code: GrpcStatus.UNAVAILABLE, details: "enrolment store unavailable; retry later" });
          },
        );
    },
  };
}
