// Sigma field names (Linux taxonomy plus Vigil extensions) to ECS paths in the
// documents the server publishes. rules/README.md repeats this table for rule
// authors; keep the two in step.

import type { LogsourceCategory } from "./types";

export interface FieldMapping {
  /** Dotted ECS path. */
  path: string;
  /**
   * More paths the field also reads: the field then holds the values of all of them,
   * matched like an array field (any value may match; `null` when none is present).
   */
  alsoPaths?: readonly string[];
  /** Sigma values rewritten to ECS values before compiling (lower-case keys); any listed value matches. */
  values?: Readonly<Record<string, readonly string[]>>;
}

/** Fields valid in every category: every event carries its process, ancestry, user and host. */
export const COMMON_FIELDS: Readonly<Record<string, FieldMapping>> = {
  // The resolved file (process.executable) or the path its exec was given when that differs
  // (process.exec_filename: a symlink such as /bin/sh -> busybox, /proc/self/exe, a #! script).
  Image: { path: "process.executable", alsoPaths: ["process.exec_filename"] },
  CommandLine: { path: "process.command_line" },
  CurrentDirectory: { path: "process.working_directory" },
  ProcessId: { path: "process.pid" },
  User: { path: "user.name" },
  ParentImage: { path: "process.parent.executable", alsoPaths: ["process.parent.exec_filename"] },
  ParentCommandLine: { path: "process.parent.command_line" },
  ParentProcessId: { path: "process.parent.pid" },
  // Vigil extensions: the agent's process cache knows the grandparent.
  GrandparentImage: {
    path: "process.parent.parent.executable",
    alsoPaths: ["process.parent.parent.exec_filename"],
  },
  GrandparentCommandLine: { path: "process.parent.parent.command_line" },
  EffectiveUser: { path: "user.effective.name" },
  Container: { path: "container.id" },
  // The agent's process cache (README "Context on every event"): SHA-256 of the executable as bare
  // lower-case hex (Sysmon's "SHA256=<hex>,..." list is not reproduced: match with `Hashes|contains: <hex>`).
  Hashes: { path: "process.hash.sha256" },
  ProcessGuid: { path: "process.entity_id" },
  ParentProcessGuid: { path: "process.parent.entity_id" },
  // Linux audit login session (/proc/<pid>/sessionid), the nearest thing to a logon id.
  LogonId: { path: "process.login_session_id" },
  // Vigil extension: the audit login user (auid), whatever the process's uids became since.
  LoginUser: { path: "process.login_user.name" },
};

const FILE_FIELDS: Readonly<Record<string, FieldMapping>> = {
  TargetFilename: { path: "file.path" },
};

const NETWORK_FIELDS: Readonly<Record<string, FieldMapping>> = {
  DestinationIp: { path: "destination.ip" },
  DestinationPort: { path: "destination.port" },
  SourceIp: { path: "source.ip" },
  SourcePort: { path: "source.port" },
  Protocol: { path: "network.transport" },
  // The server reports host-side ECS directions (egress / ingress); outbound / inbound are accepted too.
  Initiated: {
    path: "network.direction",
    values: { true: ["egress", "outbound"], false: ["ingress", "inbound"] },
  },
};

/** Fields that only mean something in some categories. */
export const CATEGORY_FIELDS: Readonly<
  Partial<Record<LogsourceCategory, Readonly<Record<string, FieldMapping>>>>
> = {
  network_connection: NETWORK_FIELDS,
  file_event: FILE_FIELDS,
  file_access: FILE_FIELDS,
  file_change: FILE_FIELDS,
  file_delete: FILE_FIELDS,
  file_rename: { ...FILE_FIELDS, SourceFilename: { path: "vigil.old_path" } },
  dns_query: { QueryName: { path: "vigil.query_name" }, QueryType: { path: "vigil.query_type" } },
  driver_load: { ImageLoaded: { path: "vigil.name" }, ModuleName: { path: "vigil.name" } },
  process_access: {
    SourceImage: { path: "process.executable", alsoPaths: ["process.exec_filename"] },
    TargetProcessId: { path: "vigil.target_tgid" },
    TargetProcessName: { path: "vigil.target_comm" },
    PtraceRequest: { path: "vigil.request" },
  },
  privilege_change: {
    Syscall: { path: "vigil.syscall" },
    SourceUserId: { path: "vigil.old_uid" },
    TargetUserId: { path: "vigil.new_uid" },
    SourceEffectiveUserId: { path: "vigil.old_euid" },
    TargetEffectiveUserId: { path: "vigil.new_euid" },
    SourceGroupId: { path: "vigil.old_gid" },
    TargetGroupId: { path: "vigil.new_gid" },
    SourceEffectiveGroupId: { path: "vigil.old_egid" },
    TargetEffectiveGroupId: { path: "vigil.new_egid" },
    TargetUser: { path: "user.changes.name" },
  },
};

/** Sigma fields with no Vigil equivalent: a rule using one is rejected instead of never matching. */
export const UNAVAILABLE_FIELDS: ReadonlySet<string> = new Set([
  "OriginalFileName",
  "Product",
  "Company",
  "Description",
  "FileVersion",
  "IntegrityLevel",
  "LogonGuid",
  "ParentUser",
  "TerminalSessionId",
]);

/**
 * Fields Vigil's events never carry, each with why, so a rule using one is
 * refused with the reason instead of loading and never matching. Also refused
 * as their ECS paths.
 */
const NEVER_SET_FIELDS: Readonly<Record<string, { path: string; reason: string }>> = {
  DestinationHostname: {
    path: "destination.domain",
    reason:
      "is never set: vigil.ko reports DNS queries but not their answers, so no connection's address can be tied to a name " +
      "(match the lookup in a dns_query rule with QueryName, or the address with DestinationIp)",
  },
};

const NEVER_SET_PATHS: ReadonlyMap<string, string> = new Map(
  Object.entries(NEVER_SET_FIELDS).map(([field, { path, reason }]) => [path, `${field}, ${reason}`]),
);

const ECS_PATH = /^(@timestamp|[a-z_][a-z0-9_]*(\.[a-z0-9_@]+)+)$/;

/** Top-level ECS objects every event may carry. */
const COMMON_NAMESPACES = [
  "@timestamp",
  "event",
  "host",
  "agent",
  "process",
  "user",
  "container",
  "vigil",
  "tags",
  "labels",
];

/** Further top-level objects by category (the rest are never in its documents). */
const CATEGORY_NAMESPACES: Readonly<Partial<Record<LogsourceCategory, readonly string[]>>> = {
  network_connection: ["destination", "source", "network"],
  dns_query: ["destination", "source", "network"],
  file_event: ["file"],
  file_access: ["file"],
  file_change: ["file"],
  file_delete: ["file"],
  file_rename: ["file"],
  kernel_integrity: ["file"],
};

/** The categories a Sigma field name is defined in, for "use it in ..." hints. */
function categoriesWith(field: string): LogsourceCategory[] {
  return (Object.keys(CATEGORY_FIELDS) as LogsourceCategory[]).filter(
    (category) => CATEGORY_FIELDS[category]?.[field] !== undefined,
  );
}

export type FieldResolution = { ok: true; mapping: FieldMapping } | { ok: false; reason: string };

/** Maps a Sigma field name, or accepts a dotted ECS path as is. */
export function resolveField(field: string, category: LogsourceCategory): FieldResolution {
  const common = COMMON_FIELDS[field];
  if (common !== undefined) return { ok: true, mapping: common };
  const specific = CATEGORY_FIELDS[category]?.[field];
  if (specific !== undefined) return { ok: true, mapping: specific };
  if (UNAVAILABLE_FIELDS.has(field)) {
    return { ok: false, reason: `field '${field}' has no equivalent in Vigil events` };
  }
  const neverSet = NEVER_SET_FIELDS[field];
  if (neverSet !== undefined) {
    return { ok: false, reason: `field '${field}' (${neverSet.path}) ${neverSet.reason}` };
  }
  const neverSetPath = NEVER_SET_PATHS.get(field);
  if (neverSetPath !== undefined) return { ok: false, reason: `field '${field}' (Sigma ${neverSetPath})` };
  const elsewhere = categoriesWith(field);
  if (elsewhere.length > 0) {
    return {
      ok: false,
      reason: `field '${field}' is not in ${category} events (it is in ${elsewhere.join(", ")})`,
    };
  }
  if (ECS_PATH.test(field)) {
    const namespace = field.split(".")[0];
    const allowed = [...COMMON_NAMESPACES, ...(CATEGORY_NAMESPACES[category] ?? [])];
    if (!allowed.includes(namespace))
      return {
        ok: false,
        reason: `field '${field}' is not in ${category} events (no '${namespace}' in them)`,
      };
    return { ok: true, mapping: { path: field } };
  }
  return {
    ok: false,
    reason: `unknown field '${field}' (use a Sigma field from rules/FIELDS.md or a dotted ECS path)`,
  };
}
