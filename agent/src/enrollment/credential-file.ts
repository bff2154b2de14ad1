import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ErrorCodes, VigilError } from "@vigil/common";
import { writeFileAtomic } from "../security/atomic-write";
import { checkSecretFile } from "../security/file-permissions";

/** What the agent keeps after enrolling: which id the credential belongs to, and the secret. */
export interface StoredCredential {
  agentId: string;
  credential: string;
  /** Server answer's enrolment time (µs). */
  enrolledAtUs: number;
}

export function credentialPath(stateDir: string): string {
  return join(stateDir, "credential");
}

/**
 * Reads stateDir/credential; undefined when the agent has not enrolled.
 * Refuses (VIGIL_ERR_INSECURE_PERMISSIONS) a credential group or others can
 * read, and a file that is not what this agent wrote.
 */
export function readCredential(stateDir: string): StoredCredential | undefined {
  const path = credentialPath(stateDir);
  if (!checkSecretFile(path)) return undefined;
  let parsed: Partial<StoredCredential>;
  try {
    parsed = JSON.parse(readFileSync(path, "utf8")) as Partial<StoredCredential>;
  } catch (cause) {
    throw new VigilError(
      ErrorCodes.ENROLLMENT,
      `${path} is not a Vigil credential (${(cause as Error).message}): remove it to enrol again`,
      { cause },
    );
  }
  if (typeof parsed.agentId !== "string" || typeof parsed.credential !== "string" || !parsed.credential) {
    throw new VigilError(
      ErrorCodes.ENROLLMENT,
      `${path} is not a Vigil credential: remove it to enrol again`,
    );
  }
  return { agentId: parsed.agentId, credential: parsed.credential, enrolledAtUs: parsed.enrolledAtUs ?? 0 };
}

/** Writes stateDir/credential 0600, atomically (old or new after a crash, never half). */
export function writeCredential(stateDir: string, stored: StoredCredential): void {
  writeFileAtomic(credentialPath(stateDir), `${JSON.stringify(stored)}\n`, 0o600);
}
