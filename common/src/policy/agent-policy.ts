import { z } from "zod";
import { listOf } from "../config/schema-helpers";

// The agent policy: what the server tells its agents to filter at the source.
// It travels in ConfigUpdate.settings (proto vigil.v1.ConfigUpdate), a
// map<string, string>; this file is the one definition of its keys, their
// value format (a JSON array of strings) and their limits, used by the
// server to validate its configuration and by the agent to validate what it
// receives. A ConfigUpdate is the full desired state: an absent key means
// "the agent's local default".

/** ConfigUpdate.settings keys the agent understands. */
export const AGENT_SETTING_KEYS = {
  /** Path prefixes the driver's file hooks report (absent: the agent's driverWatchedPrefixes). */
  driverWatchedPrefixes: "driver.watchedPrefixes",
  /** Executables whose processes the driver does not record: absolute paths or "<dev>:<ino>". */
  driverAllowExecutables: "driver.allowExecutables",
  /** Driver hooks switched off (events.def names). */
  driverDisabledHooks: "driver.disabledHooks",
  /** Events per batch (absent: the agent's batch.maxEvents). */
  batchMaxEvents: "batch.maxEvents",
  /** Longest an event waits in the agent before its batch is sent (absent: batch.flushIntervalMs). */
  batchFlushIntervalMs: "batch.flushIntervalMs",
  /** The agent's CPU limit, % of one core, 0 = none (absent: limits.cpuPercent). */
  limitsCpuPercent: "limits.cpuPercent",
  /** The agent's RSS limit in bytes, 0 = none (absent: limits.rssBytes). */
  limitsRssBytes: "limits.rssBytes",
  /** The agent's log level (absent: its logLevel). */
  logLevel: "log.level",
} as const;

/** Log levels a policy may set (pino's). */
export const AGENT_LOG_LEVELS = ["trace", "debug", "info", "warn", "error", "fatal", "silent"] as const;

/** Bounds of the agent's live-settable scalars; the agent's own config uses the same. */
export const AGENT_RUNTIME_LIMITS = {
  batchMaxEvents: { min: 1, max: 100_000 },
  batchFlushIntervalMs: { min: 1, max: 60_000 },
  /** 100 = one core; 0 = no limit. */
  cpuPercent: { min: 0, max: 100_000 },
  /** 0 = no limit; otherwise at least 32 MiB (Node itself needs ~50 MB). */
  rssBytes: { min: 32 * 1024 * 1024, max: 2 ** 46 },
} as const;

/** The limits of vigil.ko's control protocol (driver/control.c). */
export const DRIVER_FILTER_LIMITS = {
  /** VG_MAX_WATCH */
  maxWatchedPrefixes: 64,
  /** VG_MAX_ALLOW */
  maxAllowedExecutables: 64,
  /** VG_MAX_PREFIX - 1: bytes of a watched prefix, and here of an allow-listed path too. */
  maxPathBytes: 255,
  /** VG_MAX_WRITE: every filter goes to the driver in one all-or-nothing write. */
  maxWriteBytes: 16_384,
} as const;

/** Longest setting value (bytes of JSON) an agent parses. */
export const MAX_SETTING_VALUE_BYTES = 64 * 1024;

/**
 * Driver hooks a policy may switch off: the events.def names, without the
 * driver's own accounting (dropped, stats) and tamper records (device_opened,
 * integrity), which stay on so drops and tampering are never silent. The
 * agent's tests check this list against the generated event table.
 */
export const DRIVER_HOOK_NAMES = [
  "exec",
  "fork",
  "exit",
  "cred",
  "connect",
  "accept",
  "bind",
  "listen",
  "dns",
  "file_create",
  "file_open_write",
  "file_rename",
  "file_unlink",
  "file_chmod",
  "ptrace",
  "module_load",
  "memfd_create",
  "mount",
  "bpf_prog_load",
  "usermode_helper",
] as const;

export type DriverHookName = (typeof DRIVER_HOOK_NAMES)[number];

const MAX_DEV = 0xffff_ffff;
const MAX_INO = (1n << 64n) - 1n;
const DEV_INO = /^(\d{1,10}):(\d{1,20})$/;

/** Quotes a value for an error message, shortened so a hostile value cannot flood a log line. */
export function previewValue(value: string, max = 80): string {
  return JSON.stringify(value.length > max ? `${value.slice(0, max)}…` : value);
}

function hasControlCharacter(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if (code < 0x20 || code === 0x7f) return true;
  }
  return false;
}

/** Why `value` is not an absolute path the driver takes, or undefined when it is. */
export function pathEntryProblem(value: string): string | undefined {
  if (!value.startsWith("/")) return "must be an absolute path (start with /)";
  if (hasControlCharacter(value)) return "must not contain control characters (newline, tab, NUL, …)";
  const bytes = Buffer.byteLength(value, "utf8");
  if (bytes > DRIVER_FILTER_LIMITS.maxPathBytes) {
    return `is ${bytes} bytes long; the driver takes at most ${DRIVER_FILTER_LIMITS.maxPathBytes}`;
  }
  return undefined;
}

/** "<dev>:<ino>" (decimal, dev as in the driver's EXEC record field exe_dev) or undefined. */
export function parseDevIno(value: string): { dev: number; ino: bigint } | undefined {
  const match = DEV_INO.exec(value);
  if (!match) return undefined;
  const dev = Number(match[1]);
  const ino = BigInt(match[2]);
  if (dev > MAX_DEV || ino === 0n || ino > MAX_INO) return undefined;
  return { dev, ino };
}

/** Why `value` is neither an absolute executable path nor "<dev>:<ino>", or undefined. */
export function allowEntryProblem(value: string): string | undefined {
  if (value.startsWith("/")) return pathEntryProblem(value);
  if (DEV_INO.test(value) && parseDevIno(value)) return undefined;
  return `must be an absolute executable path or "<dev>:<ino>" (decimal, dev < 2^32, 0 < ino < 2^64)`;
}

/** Why `value` is not a hook a policy may switch off, or undefined. */
export function hookNameProblem(value: string): string | undefined {
  if ((DRIVER_HOOK_NAMES as readonly string[]).includes(value)) return undefined;
  return `is not a driver hook a policy can switch off; one of ${DRIVER_HOOK_NAMES.join(", ")}`;
}

function entry(problemOf: (value: string) => string | undefined) {
  return z.string().superRefine((value, context) => {
    const problem = problemOf(value);
    if (problem) context.addIssue({ code: "custom", message: `${previewValue(value)} ${problem}` });
  });
}

/** The lists of a driver policy; absent means the agent's default. */
export interface DriverPolicyLists {
  watchedPrefixes?: readonly string[];
  allowExecutables?: readonly string[];
  disabledHooks?: readonly string[];
}

function unique(values: string[]): string[] {
  return [...new Set(values)];
}

/** Bytes of the driver commands for the parts of a policy that are set (agent/src/collectors/driver/driver-filters.ts writes them; its tests check this count). */
export function driverPolicyCommandBytes(policy: DriverPolicyLists): number {
  const bytes = (text: string) => Buffer.byteLength(text, "utf8");
  let total = bytes("clear-watch\nclear-allow\nhook all on\nstats\n");
  for (const prefix of policy.watchedPrefixes ?? []) total += bytes(`watch ${prefix}\n`);
  for (const exe of policy.allowExecutables ?? []) {
    const id = parseDevIno(exe);
    total += bytes(id ? `allow-ino ${id.dev} ${id.ino}\n` : `allow-exe ${exe}\n`);
  }
  for (const hook of policy.disabledHooks ?? []) total += bytes(`hook ${hook} off\n`);
  return total;
}

function listSchema(problemOf: (value: string) => string | undefined, max: number, what: string) {
  return listOf(entry(problemOf))
    .transform(unique)
    .pipe(z.array(z.string()).max(max, { message: `at most ${max} ${what} (the driver's limit)` }));
}

/** Watched path prefixes: absolute, at most 255 bytes, at most 64 (also the agent's driverWatchedPrefixes). */
export const watchedPrefixesSchema = listSchema(
  pathEntryProblem,
  DRIVER_FILTER_LIMITS.maxWatchedPrefixes,
  "watched prefixes",
);

/**
 * The driver part of a policy. Lists come from YAML or the environment
 * (comma-separated); duplicates are dropped; every entry and every limit is
 * checked with an error naming the entry.
 */
export const driverPolicySchema = z
  .object({
    watchedPrefixes: watchedPrefixesSchema.optional(),
    allowExecutables: listSchema(
      allowEntryProblem,
      DRIVER_FILTER_LIMITS.maxAllowedExecutables,
      "allow-listed executables",
    ).optional(),
    disabledHooks: listSchema(hookNameProblem, DRIVER_HOOK_NAMES.length, "hooks").optional(),
  })
  .strict()
  .superRefine((policy, context) => {
    const bytes = driverPolicyCommandBytes(policy);
    if (bytes > DRIVER_FILTER_LIMITS.maxWriteBytes) {
      context.addIssue({
        code: "custom",
        message: `these filters make ${bytes} bytes of driver commands; the driver takes at most ${DRIVER_FILTER_LIMITS.maxWriteBytes} in its one write: use fewer or shorter prefixes and paths`,
      });
    }
  });

export type DriverPolicy = z.infer<typeof driverPolicySchema>;

const bounded = (bounds: { min: number; max: number }, integer = true) =>
  (integer ? z.coerce.number().int() : z.coerce.number()).min(bounds.min).max(bounds.max);

/** Batching the agent may be told to use live (section of the agent policy). */
export const batchPolicySchema = z
  .object({
    maxEvents: bounded(AGENT_RUNTIME_LIMITS.batchMaxEvents).optional(),
    flushIntervalMs: bounded(AGENT_RUNTIME_LIMITS.batchFlushIntervalMs).optional(),
  })
  .strict();

/** An RSS limit: 0 (none) or at least 32 MiB. */
export const rssLimitSchema = z.coerce
  .number()
  .int()
  .max(AGENT_RUNTIME_LIMITS.rssBytes.max)
  .refine((value) => value === 0 || value >= AGENT_RUNTIME_LIMITS.rssBytes.min, {
    message: `must be 0 (no limit) or at least ${AGENT_RUNTIME_LIMITS.rssBytes.min} bytes (32 MiB)`,
  });

/** The agent's self-restraint limits (README "Agent health"). */
export const limitsPolicySchema = z
  .object({
    cpuPercent: bounded(AGENT_RUNTIME_LIMITS.cpuPercent, false).optional(),
    rssBytes: rssLimitSchema.optional(),
  })
  .strict();

export const logPolicySchema = z.object({ level: z.enum(AGENT_LOG_LEVELS).optional() }).strict();

/** What the server pushes to agents: driver filters, batching, limits and the log level. */
export const agentPolicySchema = z
  .object({
    driver: driverPolicySchema.prefault({}),
    batch: batchPolicySchema.optional(),
    limits: limitsPolicySchema.optional(),
    log: logPolicySchema.optional(),
  })
  .strict();

export type AgentPolicy = z.infer<typeof agentPolicySchema>;

export const EMPTY_AGENT_POLICY: AgentPolicy = { driver: {} };

const DRIVER_FIELD_BY_KEY = {
  [AGENT_SETTING_KEYS.driverWatchedPrefixes]: "watchedPrefixes",
  [AGENT_SETTING_KEYS.driverAllowExecutables]: "allowExecutables",
  [AGENT_SETTING_KEYS.driverDisabledHooks]: "disabledHooks",
} as const satisfies Record<string, keyof DriverPolicy>;

type DriverSettingKey = keyof typeof DRIVER_FIELD_BY_KEY;

/** The scalar settings: plain values ("500", "debug"), not JSON. */
const SCALAR_FIELD_BY_KEY = {
  [AGENT_SETTING_KEYS.batchMaxEvents]: ["batch", "maxEvents"],
  [AGENT_SETTING_KEYS.batchFlushIntervalMs]: ["batch", "flushIntervalMs"],
  [AGENT_SETTING_KEYS.limitsCpuPercent]: ["limits", "cpuPercent"],
  [AGENT_SETTING_KEYS.limitsRssBytes]: ["limits", "rssBytes"],
  [AGENT_SETTING_KEYS.logLevel]: ["log", "level"],
} as const satisfies Record<string, readonly ["batch" | "limits" | "log", string]>;

type ScalarSettingKey = keyof typeof SCALAR_FIELD_BY_KEY;
type ScalarSection = Record<string, string | number | undefined> | undefined;

const DECIMAL = /^\d{1,16}(\.\d{1,6})?$/;

/** The ConfigUpdate.settings of a policy: each set list as a JSON array of strings, each set scalar as its plain value. */
export function encodeAgentSettings(policy: AgentPolicy): Record<string, string> {
  const settings: Record<string, string> = {};
  for (const [key, field] of Object.entries(DRIVER_FIELD_BY_KEY)) {
    const value = policy.driver[field];
    if (value !== undefined) settings[key] = JSON.stringify(value);
  }
  for (const [key, [section, field]] of Object.entries(SCALAR_FIELD_BY_KEY)) {
    const value = (policy[section] as ScalarSection)?.[field];
    if (value !== undefined) settings[key] = String(value);
  }
  return settings;
}

export interface ParsedAgentSettings {
  /** The policy, when every known key held a valid value. */
  policy: AgentPolicy | undefined;
  /** Keys this agent does not know (a newer server): ignored, the rest still applies. */
  ignoredKeys: string[];
  /** One message per bad value, naming the key (and entry); any error rejects the whole update. */
  errors: string[];
}

/** Validates ConfigUpdate.settings as the agent receives them. Never throws. */
export function parseAgentSettings(settings: Record<string, string>): ParsedAgentSettings {
  const ignoredKeys: string[] = [];
  const errors: string[] = [];
  const driver: Record<string, unknown> = {};
  const runtime: Record<string, Record<string, unknown>> = {};
  for (const [key, value] of Object.entries(settings)) {
    if (Object.hasOwn(SCALAR_FIELD_BY_KEY, key)) {
      const [section, field] = SCALAR_FIELD_BY_KEY[key as ScalarSettingKey];
      if (section !== "log" && !DECIMAL.test(value)) {
        errors.push(`${key}: must be a decimal number, got ${previewValue(value)}`);
        continue;
      }
      runtime[section] ??= {};
      runtime[section][field] = section === "log" ? value : Number(value);
      continue;
    }
    if (!Object.hasOwn(DRIVER_FIELD_BY_KEY, key)) {
      ignoredKeys.push(key.length > 100 ? `${key.slice(0, 100)}…` : key);
      continue;
    }
    const field = DRIVER_FIELD_BY_KEY[key as DriverSettingKey];
    if (Buffer.byteLength(value, "utf8") > MAX_SETTING_VALUE_BYTES) {
      errors.push(`${key}: value is longer than ${MAX_SETTING_VALUE_BYTES} bytes`);
      continue;
    }
    let list: unknown;
    try {
      list = JSON.parse(value);
    } catch {
      list = undefined;
    }
    if (!Array.isArray(list) || !list.every((item) => typeof item === "string")) {
      errors.push(`${key}: must be a JSON array of strings, got ${previewValue(value)}`);
      continue;
    }
    driver[field] = list;
  }
  // The lists that are JSON arrays are checked too, so one answer names every problem.
  const parsed = driverPolicySchema.safeParse(driver);
  if (!parsed.success) {
    const keyOf = Object.fromEntries(Object.entries(DRIVER_FIELD_BY_KEY).map(([key, field]) => [field, key]));
    for (const issue of parsed.error.issues) {
      const [field, index] = issue.path;
      const key = typeof field === "string" ? (keyOf[field] ?? field) : "driver";
      errors.push(`${key}${typeof index === "number" ? `[${index}]` : ""}: ${issue.message}`);
    }
  }
  const sections = { batch: batchPolicySchema, limits: limitsPolicySchema, log: logPolicySchema } as const;
  const policy: AgentPolicy = { driver: parsed.success ? parsed.data : {} };
  for (const [section, schema] of Object.entries(sections) as Array<[keyof typeof sections, z.ZodType]>) {
    if (!runtime[section]) continue;
    const result = schema.safeParse(runtime[section]);
    if (result.success) {
      Object.assign(policy, { [section]: result.data });
      continue;
    }
    for (const issue of result.error.issues) {
      const field = issue.path[0];
      errors.push(`${section}${typeof field === "string" ? `.${field}` : ""}: ${issue.message}`);
    }
  }
  if (errors.length > 0 || !parsed.success) return { policy: undefined, ignoredKeys, errors };
  return { policy, ignoredKeys, errors };
}
