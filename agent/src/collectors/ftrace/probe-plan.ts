// Which tracepoints and libc uprobes the ftrace collector enables, with their
// kernel-side filters. Syscall tracepoints carry only user pointers, so the
// strings (paths, argv, sockaddr) come from uprobes on the libc wrappers.

import type { ElfSymbol } from "./elf-symbols";
import { RecordKind } from "./record-kind";

/** open(2) flags that make an open a write: O_WRONLY | O_RDWR | O_CREAT | O_TRUNC. */
export const WRITE_FLAGS = 0x1 | 0x2 | 0x40 | 0x200;
/** What creat(2) implies. */
export const CREAT_FLAGS = 0x1 | 0x40 | 0x200;
export const AT_FDCWD = -100;
const AF_UNIX = 1;
const AF_INET = 2;
const AF_INET6 = 10;

export interface TracepointSpec {
  group: string;
  event: string;
  kind: RecordKind;
  filter?: string;
  /** Roles f0..f5 in order; a missing field takes the default. */
  fields: string[];
  defaults?: number[];
  stringField?: string;
  /** False: start fails without it. */
  optional?: boolean;
}

export interface UprobeSpec {
  event: string;
  /** Alternatives, first found wins (aliases share an address and are probed once). */
  symbols: string[];
  fetchargs: string;
  kind: RecordKind;
  filter?: string;
  fields: string[];
  defaults?: number[];
  stringField?: string;
  argvSlots?: number;
}

export interface ProbePlanOptions {
  sensitivePaths: string[];
  argvSlots: number;
  includeUnixConnect: boolean;
}

const SET_ID_ARGS: Record<string, string[]> = {
  setuid: ["uid"],
  setgid: ["gid"],
  setreuid: ["ruid", "euid"],
  setregid: ["rgid", "egid"],
  setresuid: ["ruid", "euid", "suid"],
  setresgid: ["rgid", "egid", "sgid"],
  setfsuid: ["uid"],
  setfsgid: ["gid"],
};

export function tracepointPlan(): TracepointSpec[] {
  const writeFilter = `flags & ${WRITE_FLAGS}`;
  const plan: TracepointSpec[] = [
    {
      group: "sched",
      event: "sched_process_exec",
      kind: RecordKind.SchedExec,
      fields: ["pid", "old_pid"],
      stringField: "filename",
    },
    {
      group: "sched",
      event: "sched_process_exit",
      kind: RecordKind.SchedExit,
      fields: ["pid", "group_dead"],
      defaults: [0, -1],
    },
    { group: "task", event: "task_newtask", kind: RecordKind.NewTask, fields: ["pid", "clone_flags"] },
    // sys_enter_execve carries nothing the uprobe lacks; exits give failed execs their result.
    { group: "syscalls", event: "sys_exit_execve", kind: RecordKind.ExitExec, fields: ["ret"] },
    {
      group: "syscalls",
      event: "sys_exit_execveat",
      kind: RecordKind.ExitExec,
      fields: ["ret"],
      optional: true,
    },
    {
      group: "syscalls",
      event: "sys_enter_openat",
      kind: RecordKind.EnterOpen,
      filter: writeFilter,
      fields: ["dfd", "flags", "mode"],
    },
    { group: "syscalls", event: "sys_exit_openat", kind: RecordKind.ExitOpen, fields: ["ret"] },
    // x86_64 has open(2) and creat(2); arm64 does not.
    {
      group: "syscalls",
      event: "sys_enter_open",
      kind: RecordKind.EnterOpen,
      filter: writeFilter,
      fields: ["dfd", "flags", "mode"],
      defaults: [AT_FDCWD, 0, 0],
      optional: true,
    },
    { group: "syscalls", event: "sys_exit_open", kind: RecordKind.ExitOpen, fields: ["ret"], optional: true },
    {
      group: "syscalls",
      event: "sys_enter_creat",
      kind: RecordKind.EnterOpen,
      fields: ["dfd", "flags", "mode"],
      defaults: [AT_FDCWD, CREAT_FLAGS, 0],
      optional: true,
    },
    {
      group: "syscalls",
      event: "sys_exit_creat",
      kind: RecordKind.ExitOpen,
      fields: ["ret"],
      optional: true,
    },
    { group: "syscalls", event: "sys_enter_connect", kind: RecordKind.EnterConnect, fields: ["fd"] },
    { group: "syscalls", event: "sys_exit_connect", kind: RecordKind.ExitConnect, fields: ["ret"] },
    { group: "syscalls", event: "sys_enter_chdir", kind: RecordKind.EnterChdir, fields: [] },
    { group: "syscalls", event: "sys_exit_chdir", kind: RecordKind.ExitChdir, fields: ["ret"] },
    { group: "syscalls", event: "sys_enter_fchdir", kind: RecordKind.EnterChdir, fields: ["fd"] },
    { group: "syscalls", event: "sys_exit_fchdir", kind: RecordKind.ExitChdir, fields: ["ret"] },
  ];
  for (const [syscall, args] of Object.entries(SET_ID_ARGS)) {
    plan.push({
      group: "syscalls",
      event: `sys_enter_${syscall}`,
      kind: RecordKind.EnterSetId,
      fields: args,
    });
    plan.push({
      group: "syscalls",
      event: `sys_exit_${syscall}`,
      kind: RecordKind.ExitSetId,
      fields: ["ret"],
    });
  }
  return plan;
}

/** tracefs filter strings are double-quoted globs: refuse what would break out of them. */
export function pathGlob(path: string): string {
  if (/["\\\n]/.test(path))
    throw new Error(`sensitive path ${JSON.stringify(path)} contains a quote, backslash or newline`);
  return path.endsWith("*") ? path : `${path}*`;
}

export function uprobePlan(options: ProbePlanOptions): UprobeSpec[] {
  const sensitive = options.sensitivePaths.map((path) => `path ~ "${pathGlob(path)}"`);
  const openFilter = [`flags & ${WRITE_FLAGS}`, ...sensitive].join(" || ");
  const families = [AF_INET, AF_INET6, ...(options.includeUnixConnect ? [AF_UNIX] : [])];
  const connectFilter = families.map((family) => `family == ${family}`).join(" || ");
  const openFields = ["dfd", "flags", "mode"];
  return [
    {
      event: "execve",
      symbols: ["execve"],
      fetchargs: `file=+0(%di):ustring ${argvFetch("%si", options.argvSlots)}`,
      kind: RecordKind.ProbeExec,
      fields: ["more"],
      stringField: "file",
      argvSlots: options.argvSlots,
    },
    {
      event: "execveat",
      symbols: ["execveat"],
      fetchargs: `file=+0(%si):ustring ${argvFetch("%dx", options.argvSlots)}`,
      kind: RecordKind.ProbeExec,
      fields: ["more"],
      stringField: "file",
      argvSlots: options.argvSlots,
    },
    {
      event: "fexecve",
      symbols: ["fexecve"],
      fetchargs: argvFetch("%si", options.argvSlots),
      kind: RecordKind.ProbeExec,
      fields: ["more"],
      argvSlots: options.argvSlots,
    },
    {
      event: "open",
      symbols: ["open64", "open"],
      fetchargs: "path=+0(%di):ustring flags=%si:s32 mode=%dx:u32",
      kind: RecordKind.ProbeOpen,
      filter: openFilter,
      fields: openFields,
      defaults: [AT_FDCWD, 0, 0],
      stringField: "path",
    },
    {
      event: "openat",
      symbols: ["openat64", "openat"],
      fetchargs: "dfd=%di:s32 path=+0(%si):ustring flags=%dx:s32 mode=%cx:u32",
      kind: RecordKind.ProbeOpen,
      filter: openFilter,
      fields: openFields,
      stringField: "path",
    },
    // stdio's fopen may take this internal entry instead of open64.
    {
      event: "open_nocancel",
      symbols: ["__open_nocancel"],
      fetchargs: "path=+0(%di):ustring flags=%si:s32 mode=%dx:u32",
      kind: RecordKind.ProbeOpen,
      filter: openFilter,
      fields: openFields,
      defaults: [AT_FDCWD, 0, 0],
      stringField: "path",
    },
    {
      event: "creat",
      symbols: ["creat64", "creat"],
      fetchargs: "path=+0(%di):ustring mode=%si:u32",
      kind: RecordKind.ProbeOpen,
      fields: openFields,
      defaults: [AT_FDCWD, CREAT_FLAGS, 0],
      stringField: "path",
    },
    // sockaddr_in: family@0, port@2 (big-endian), addr@4; sockaddr_in6: addr@8..24; sockaddr_un: path@2.
    {
      event: "connect",
      symbols: ["connect"],
      fetchargs:
        "fd=%di:s32 family=+0(%si):u16 port=+2(%si):u16 addr4=+4(%si):u32 a6a=+8(%si):x64 a6b=+16(%si):x64 upath=+2(%si):ustring",
      kind: RecordKind.ProbeConnect,
      filter: connectFilter,
      fields: ["fd", "family", "port", "addr4", "a6a"],
      stringField: "upath",
    },
    {
      event: "chdir",
      symbols: ["chdir"],
      fetchargs: "path=+0(%di):ustring",
      kind: RecordKind.ProbeChdir,
      fields: [],
      stringField: "path",
    },
    // The only place a normal exit's status is visible: sched_process_exit has none.
    {
      event: "exit",
      symbols: ["_exit"],
      fetchargs: "code=%di:s32",
      kind: RecordKind.ProbeExit,
      fields: ["code"],
    },
  ];
}

/** argv[i] as strings plus the raw pointers: a NULL pointer ends argv, a fault on a non-NULL one is lost data. */
function argvFetch(register: string, slots: number): string {
  const args: string[] = [];
  for (let index = 0; index < slots; index++) args.push(`a${index}=+0(+${index * 8}(${register})):ustring`);
  for (let index = 0; index < slots; index++) args.push(`p${index}=+${index * 8}(${register}):x64`);
  args.push(`more=+${slots * 8}(${register}):x64`);
  return args.join(" ");
}

/** The uprobe_events line for a spec, or undefined when libc lacks the symbol. */
export function uprobeDefinition(
  spec: UprobeSpec,
  group: string,
  libcPath: string,
  symbols: Map<string, ElfSymbol>,
  taken: Set<number>,
): string | undefined {
  for (const name of spec.symbols) {
    const symbol = symbols.get(name);
    if (symbol === undefined) continue;
    if (taken.has(symbol.fileOffset)) return undefined;
    taken.add(symbol.fileOffset);
    return `p:${group}/${spec.event} ${libcPath}:0x${symbol.fileOffset.toString(16)} ${spec.fetchargs}`;
  }
  return undefined;
}
