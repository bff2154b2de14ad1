// Parsers for /proc/<pid>/stat and /proc/<pid>/status. Pure: they take the
// file text so tests and the scanners share them.

export interface ProcStat {
  comm: string;
  state: string;
  ppid: number;
  session: number;
  ttyNr: number;
  /** Clock ticks after boot (field 22). */
  startTicks: number;
  /** Field 52; only meaningful for a zombie that has not been reaped. */
  exitCode: number;
}

/** The comm may contain spaces and parentheses, so split at the LAST ')'. */
export function parseProcStat(text: string): ProcStat | undefined {
  const open = text.indexOf("(");
  const close = text.lastIndexOf(")");
  if (open < 0 || close < open) return undefined;
  const rest = text.slice(close + 2).split(" ");
  // rest[0] is field 3 (state); field N is rest[N - 3].
  if (rest.length < 20) return undefined;
  return {
    comm: text.slice(open + 1, close),
    state: rest[0],
    ppid: Number(rest[1]),
    session: Number(rest[3]),
    ttyNr: Number(rest[4]),
    startTicks: Number(rest[19]),
    exitCode: rest.length >= 50 ? Number(rest[49]) : 0,
  };
}

export interface ProcStatus {
  tgid: number;
  uid: number;
  euid: number;
  gid: number;
  egid: number;
}

export function parseProcStatus(text: string): ProcStatus {
  const status: ProcStatus = { tgid: 0, uid: 0, euid: 0, gid: 0, egid: 0 };
  let at = 0;
  while (at < text.length) {
    let end = text.indexOf("\n", at);
    if (end < 0) end = text.length;
    const line = text.slice(at, end);
    at = end + 1;
    if (line.startsWith("Tgid:")) {
      status.tgid = Number(line.slice(5).trim());
    } else if (line.startsWith("Uid:")) {
      const ids = line.slice(4).trim().split(/\s+/);
      status.uid = Number(ids[0]);
      status.euid = Number(ids[1]);
    } else if (line.startsWith("Gid:")) {
      const ids = line.slice(4).trim().split(/\s+/);
      status.gid = Number(ids[0]);
      status.egid = Number(ids[1]);
      break; // Uid and Tgid come before Gid.
    }
  }
  return status;
}

/** argv from /proc/<pid>/cmdline (NUL separated, NUL terminated). */
export function parseCmdline(raw: Buffer, maxArgs: number): string[] {
  const args: string[] = [];
  let start = 0;
  while (start < raw.length && args.length < maxArgs) {
    let end = raw.indexOf(0, start);
    if (end < 0) end = raw.length;
    args.push(raw.toString("utf8", start, end));
    start = end + 1;
  }
  return args;
}

/** Name of the controlling terminal from the stat tty_nr (major/minor encoding of new_encode_dev). */
export function ttyName(ttyNr: number): string {
  if (ttyNr === 0) return "";
  const major = (ttyNr >> 8) & 0xfff;
  const minor = (ttyNr & 0xff) | ((ttyNr >> 12) & 0xfff00);
  if (major >= 136 && major <= 143) return `pts/${(major - 136) * 256 + minor}`;
  if (major === 4) return minor < 64 ? `tty${minor}` : `ttyS${minor - 64}`;
  if (major === 5 && minor === 1) return "console";
  return `${major}:${minor}`;
}
