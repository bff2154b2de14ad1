import {
  type ChannelCredentials,
  type ChannelOptions,
  Metadata,
  type ServiceError,
  status,
} from "@grpc/grpc-js";
import { ErrorCodes, type Logger, VigilError } from "@vigil/common";
import { EnrollmentServiceClient, type EnrollResponse } from "@vigil/proto";
import type { HostInfo } from "../host/host-info";
import { AGENT_VERSION } from "../version";
import { credentialPath, readCredential, type StoredCredential, writeCredential } from "./credential-file";

/** Call metadata carrying the enrolled agent's id (the credential goes in "authorization: Bearer"). */
export const AGENT_ID_METADATA = "vigil-agent-id";

export interface AgentAuthOptions {
  stateDir: string;
  agentId: string;
  /** One-time or fleet token; used only while the agent has no credential. */
  enrollmentToken: string | undefined;
  /** Legacy/dev shared token (config `token`), sent when there is no credential and no enrollment token. */
  legacyToken: string | undefined;
  host: HostInfo;
  /** Deadline of the Enroll call. */
  timeoutMs: number;
  logger: Logger;
}

/** How the server link authenticates each stream. */
export interface LinkAuth {
  /** Metadata for a Connect to `server`; enrols there first when the agent has no credential yet. */
  metadata(server: string, credentials: ChannelCredentials, options: ChannelOptions): Promise<Metadata>;
  /** The server refused the stream (UNAUTHENTICATED / PERMISSION_DENIED). */
  refused(code: status, details: string): void;
}

/**
 * The agent's identity towards servers. With a stored credential (stateDir/
 * credential, 0600) every Connect carries "vigil-agent-id" and
 * "authorization: Bearer <credential>". Without one, and with an enrollment
 * token, it first calls EnrollmentService.Enroll on the server it is about
 * to connect to and stores the answer; the token is not needed afterwards.
 * Without either it falls back to the legacy shared token (or nothing, for
 * a loopback dev server that asks for none).
 */
export class AgentAuth implements LinkAuth {
  private stored: StoredCredential | undefined;

  constructor(private readonly options: AgentAuthOptions) {
    const stored = readCredential(options.stateDir);
    if (stored && stored.agentId !== options.agentId) {
      throw new VigilError(
        ErrorCodes.ENROLLMENT,
        `${credentialPath(options.stateDir)} belongs to agent ${stored.agentId}, not to this agent (${options.agentId}): restore the agent id or remove the credential to enrol again`,
      );
    }
    this.stored = stored;
  }

  isEnrolled(): boolean {
    return this.stored !== undefined;
  }

  async metadata(
    server: string,
    credentials: ChannelCredentials,
    options: ChannelOptions,
  ): Promise<Metadata> {
    const metadata = new Metadata();
    if (!this.stored && this.options.enrollmentToken) {
      this.stored = await this.enroll(server, credentials, options, this.options.enrollmentToken);
    }
    if (this.stored) {
      metadata.set(AGENT_ID_METADATA, this.stored.agentId);
      metadata.set("authorization", `Bearer ${this.stored.credential}`);
    } else if (this.options.legacyToken) {
      metadata.set("authorization", `Bearer ${this.options.legacyToken}`);
    }
    return metadata;
  }

  refused(code: status, details: string): void {
    // A server that no longer knows this agent (its enrolment store was reset)
    // gets a fresh enrolment when the agent still has a token; the credential
    // file is replaced only once that succeeds.
    if (code === status.UNAUTHENTICATED && details === "agent not enrolled" && this.options.enrollmentToken) {
      this.options.logger.warn("server does not know this agent: enrolling again with the enrollment token");
      this.stored = undefined;
    }
  }

  private enroll(
    server: string,
    credentials: ChannelCredentials,
    options: ChannelOptions,
    token: string,
  ): Promise<StoredCredential> {
    const { host, agentId, logger } = this.options;
    const client = new EnrollmentServiceClient(server, credentials, options);
    return new Promise<StoredCredential>((resolve, reject) => {
      client.enroll(
        {
          enrollmentToken: token,
          agentId,
          ...host,
          agentVersion: AGENT_VERSION,
        },
        new Metadata(),
        { deadline: Date.now() + this.options.timeoutMs },
        (error: ServiceError | null, response?: EnrollResponse) => {
          client.close();
          if (error || !response) {
            reject(error ?? new Error("empty Enroll answer"));
            return;
          }
          const stored = { agentId, credential: response.credential, enrolledAtUs: response.enrolledAtUs };
          try {
            writeCredential(this.options.stateDir, stored);
          } catch (cause) {
            reject(
              new VigilError(
                ErrorCodes.ENROLLMENT,
                `enrolled, but cannot store the credential in ${credentialPath(this.options.stateDir)}: ${(cause as Error).message}`,
                { cause },
              ),
            );
            return;
          }
          logger.info(
            { server, agentId, credentialFile: credentialPath(this.options.stateDir) },
            "agent enrolled",
          );
          resolve(stored);
        },
      );
    });
  }
}
