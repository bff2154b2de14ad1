import { ErrorCodes, VigilError } from "@vigil/common";
import { integerOption } from "../option-checks";
import { pathGlob } from "./probe-plan";
import {
  DEFAULT_SENSITIVE_PATHS,
  FTRACE_DEFAULTS,
  type FtraceCollectorOptions,
  type ResolvedFtraceOptions,
} from "./types";

/** Merges defaults and checks ranges; throws VIGIL_ERR_CONFIG_INVALID naming the bad key. */
export function resolveFtraceOptions(options: FtraceCollectorOptions): ResolvedFtraceOptions {
  const sensitivePaths = options.sensitivePaths ?? DEFAULT_SENSITIVE_PATHS;
  for (const path of sensitivePaths) {
    if (!path.startsWith("/")) {
      throw new VigilError(
        ErrorCodes.CONFIG_INVALID,
        `ftrace.sensitivePaths: ${JSON.stringify(path)} is not absolute`,
      );
    }
    try {
      pathGlob(path);
    } catch (error) {
      throw new VigilError(ErrorCodes.CONFIG_INVALID, `ftrace.sensitivePaths: ${(error as Error).message}`);
    }
  }
  return {
    pollIntervalMs: integerOption(
      "ftrace.pollIntervalMs",
      options.pollIntervalMs,
      FTRACE_DEFAULTS.pollIntervalMs,
      1,
      10_000,
    ),
    bufferSizeKb: integerOption(
      "ftrace.bufferSizeKb",
      options.bufferSizeKb,
      FTRACE_DEFAULTS.bufferSizeKb,
      64,
      1 << 20,
    ),
    subbufSizeKb: integerOption(
      "ftrace.subbufSizeKb",
      options.subbufSizeKb,
      FTRACE_DEFAULTS.subbufSizeKb,
      4,
      1024,
    ),
    argvSlots: integerOption("ftrace.argvSlots", options.argvSlots, FTRACE_DEFAULTS.argvSlots, 1, 48),
    maxPending: integerOption(
      "ftrace.maxPending",
      options.maxPending,
      FTRACE_DEFAULTS.maxPending,
      16,
      1 << 20,
    ),
    pendingTimeoutMs: integerOption(
      "ftrace.pendingTimeoutMs",
      options.pendingTimeoutMs,
      FTRACE_DEFAULTS.pendingTimeoutMs,
      100,
      600_000,
    ),
    maxProcesses: integerOption(
      "ftrace.maxProcesses",
      options.maxProcesses,
      FTRACE_DEFAULTS.maxProcesses,
      64,
      1 << 22,
    ),
    sensitivePaths,
    includeUnixConnect: options.includeUnixConnect ?? false,
  };
}
