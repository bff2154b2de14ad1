// Error catalogue shared by all Vigil programs. Codes are stable: they appear in
// logs, API responses and docs. errors.test.ts fails when a code is missing
// from ERROR_DOCS.

export const ErrorCodes = {
  CONFIG_INVALID: "VIGIL_ERR_CONFIG_INVALID",
  CONFIG_FILE: "VIGIL_ERR_CONFIG_FILE",
  BUS_UNAVAILABLE: "VIGIL_ERR_BUS_UNAVAILABLE",
  BUS_PUBLISH: "VIGIL_ERR_BUS_PUBLISH",
  BUS_STREAM: "VIGIL_ERR_BUS_STREAM",
  PROTOCOL: "VIGIL_ERR_PROTOCOL",
  BATCH_TOO_LARGE: "VIGIL_ERR_BATCH_TOO_LARGE",
  RULE_INVALID: "VIGIL_ERR_RULE_INVALID",
  COLLECTOR_UNAVAILABLE: "VIGIL_ERR_COLLECTOR_UNAVAILABLE",
  SINK_WRITE: "VIGIL_ERR_SINK_WRITE",
  REPLAY_INPUT: "VIGIL_ERR_REPLAY_INPUT",
  PREREQUISITE_MISSING: "VIGIL_ERR_PREREQUISITE_MISSING",
  DISCOVERY: "VIGIL_ERR_DISCOVERY",
  INSECURE_PERMISSIONS: "VIGIL_ERR_INSECURE_PERMISSIONS",
  ENROLLMENT: "VIGIL_ERR_ENROLLMENT",
  KV_CONFLICT: "VIGIL_ERR_KV_CONFLICT",
  KV_VALUE_TOO_LARGE: "VIGIL_ERR_KV_VALUE_TOO_LARGE",
  ALERT_QUERY: "VIGIL_ERR_ALERT_QUERY",
  EVENT_QUERY: "VIGIL_ERR_EVENT_QUERY",
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

export const ERROR_DOCS: Record<ErrorCode, string> = {
  VIGIL_ERR_CONFIG_INVALID: "A configuration value is missing or malformed; the message names the key.",
  VIGIL_ERR_CONFIG_FILE: "The configuration file could not be read or parsed.",
  VIGIL_ERR_BUS_UNAVAILABLE: "The bus (NATS) could not be reached or the connection was lost.",
  VIGIL_ERR_BUS_PUBLISH: "The bus did not confirm a durable publish.",
  VIGIL_ERR_BUS_STREAM: "A stream or consumer could not be created or does not exist.",
  VIGIL_ERR_PROTOCOL: "A peer sent a message that violates the wire protocol.",
  VIGIL_ERR_BATCH_TOO_LARGE: "An event batch exceeds the configured size limit.",
  VIGIL_ERR_RULE_INVALID:
    "A detection rule failed validation or compilation; the message names the rule and field.",
  VIGIL_ERR_COLLECTOR_UNAVAILABLE:
    "A collector cannot run on this host (missing kernel feature or permission).",
  VIGIL_ERR_SINK_WRITE: "An alert sink (SQLite, Elasticsearch) failed to store alerts.",
  VIGIL_ERR_REPLAY_INPUT: "A replay file contains a malformed record; the message names file and line.",
  VIGIL_ERR_PREREQUISITE_MISSING:
    "A program the component needs is not installed; the message says what to install.",
  VIGIL_ERR_DISCOVERY:
    "Service discovery (Consul, DNS) failed: Consul answered with an error or could not be reached, or a name did not resolve; the message names the address or name.",
  VIGIL_ERR_INSECURE_PERMISSIONS:
    "A file or directory holding configuration, state or a secret is owned by another user or writable (or, for a secret, readable) by group or others; the message names the path and the fix.",
  VIGIL_ERR_ENROLLMENT:
    "Agent enrolment failed or an enrollment token/credential operation was refused (token unknown, expired, used or revoked; agent revoked); the message says which, never the secret.",
  VIGIL_ERR_KV_CONFLICT:
    "A compare-and-set write to a key-value bucket lost: the key exists already or changed since it was read; re-read and retry.",
  VIGIL_ERR_KV_VALUE_TOO_LARGE:
    "A value exceeds its key-value bucket's size limit; the message names bucket and key.",
  VIGIL_ERR_ALERT_QUERY:
    "An alert search was malformed (the message names the parameter) or the alert store could not answer it.",
  VIGIL_ERR_EVENT_QUERY:
    "An event search, process tree or alert context query was malformed (the message names the parameter) or the event store could not answer it.",
};

export class VigilError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "VigilError";
    this.code = code;
  }
}

export function isVigilError(error: unknown, code?: ErrorCode): error is VigilError {
  return error instanceof VigilError && (code === undefined || error.code === code);
}
