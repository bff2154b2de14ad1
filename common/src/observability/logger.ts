import pino from "pino";

export type Logger = pino.Logger;

/** Keys whose values never reach a log line, wherever they appear. */
const REDACTED_PATHS = [
  "token",
  "*.token",
  "password",
  "*.password",
  "authorization",
  "*.authorization",
  "headers.authorization",
  "apiKey",
  "*.apiKey",
];

export interface LoggerOptions {
  name: string;
  level?: string;
  /** Write to this destination instead of stdout (tests). */
  destination?: pino.DestinationStream;
}

/** One JSON line per event worth logging; secrets redacted by key. */
export function createLogger(options: LoggerOptions): Logger {
  const settings: pino.LoggerOptions = {
    name: options.name,
    level: options.level ?? process.env.VIGIL_LOG_LEVEL ?? "info",
    redact: { paths: REDACTED_PATHS, censor: "[redacted]" },
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  return options.destination ? pino(settings, options.destination) : pino(settings);
}

/** A logger that drops everything, for benches and tests that do not read logs. */
export function silentLogger(): Logger {
  return pino({ level: "silent" });
}
