import { readFileSync } from "node:fs";

/** /proc/<pid>/loginuid when no login set it: (uid_t)-1. */
export const AUDIT_UNSET = 4294967295;

export interface LoginInfo {
  /** The audit login uid; AUDIT_UNSET when the process was not started from a login. */
  loginUid: number;
  /** The audit session id; 0 when unset. */
  loginSessionId: number;
}

/** Reads loginuid and sessionid (kernel audit, set by pam_loginuid at login; inherited on fork). */
export function readLoginInfo(procRoot: string, pid: number): LoginInfo {
  const loginUid = readNumber(`${procRoot}/${pid}/loginuid`);
  const sessionId = readNumber(`${procRoot}/${pid}/sessionid`);
  return {
    loginUid: loginUid ?? AUDIT_UNSET,
    loginSessionId: sessionId === undefined || sessionId === AUDIT_UNSET ? 0 : sessionId,
  };
}

function readNumber(path: string): number | undefined {
  try {
    const value = Number(readFileSync(path, "utf8").trim());
    return Number.isInteger(value) && value >= 0 ? value : undefined;
  } catch {
    return undefined;
  }
}
