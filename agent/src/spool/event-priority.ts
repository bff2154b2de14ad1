import type { Event } from "@vigil/proto";

/**
 * Which events a full spool gives up first. Low: the high-volume kinds that
 * rarely decide an alert on their own — fork, exit, the /proc scan's
 * process-seen, and DNS queries. High: everything the default rules match on
 * (exec, credential changes, connects, file opens — collectors only report
 * writes and sensitive reads — and the driver's module, ptrace, memfd, bpf,
 * mount, integrity and file records) and the agent's own overflow reports.
 */
export function isLowPriority(event: Event): boolean {
  const payload = event.payload;
  if (!payload) return true;
  switch (payload.$case) {
    case "fork":
    case "exit":
    case "processSeen":
      return true;
    case "kernel":
      return payload.value.type === "dns" || payload.value.type === "fork" || payload.value.type === "exit";
    case "exec":
    case "connect":
    case "fileOpen":
    case "credentialChange":
    case "spoolOverflow":
      return false;
    default: {
      const unreachable: never = payload;
      return unreachable;
    }
  }
}

/** A short name for loss counters: the payload case, or the driver's record type. */
export function eventKind(event: Event): string {
  const payload = event.payload;
  if (!payload) return "empty";
  return payload.$case === "kernel" ? payload.value.type || "kernel" : payload.$case;
}

export function countLowPriority(events: Event[]): number {
  let low = 0;
  for (const event of events) if (isLowPriority(event)) low++;
  return low;
}
