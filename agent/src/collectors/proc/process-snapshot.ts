import { AUDIT_UNSET } from "../../context/login-info";

/** What the agent knows about one process; one mutable shape for every source (/proc, trace events). */
export interface ProcessSnapshot {
  pid: number;
  ppid: number;
  name: string;
  /** The file the process runs, symlinks resolved (/proc/<pid>/exe; the driver's EXEC exe_path). */
  executable: string;
  /** The path its exec was given when that is not `executable` (symlink, /proc/self/exe, #! script); only the driver knows it. */
  execFilename?: string;
  args: string[];
  cwd: string;
  uid: number;
  euid: number;
  gid: number;
  egid: number;
  startTimeUs: number;
  tty: string;
  sessionId: number;
  containerId: string;
  /** Audit login uid (AUDIT_UNSET when no login set it) and session (0: unset); inherited on fork. */
  loginUid: number;
  loginSessionId: number;
  /** Set once the process has exited; the entry stays so children can still name their parent. */
  exited: boolean;
  /** When the cache learnt of the exit (Date.now() ms; 0: alive): it forgets the process context.exitGraceMs later. */
  exitedAtMs: number;
}

export function emptySnapshot(pid: number): ProcessSnapshot {
  return {
    pid,
    ppid: 0,
    name: "",
    executable: "",
    args: [],
    cwd: "",
    uid: 0,
    euid: 0,
    gid: 0,
    egid: 0,
    startTimeUs: 0,
    tty: "",
    sessionId: 0,
    containerId: "",
    loginUid: AUDIT_UNSET,
    loginSessionId: 0,
    exited: false,
    exitedAtMs: 0,
  };
}
