import type { Event } from "@vigil/proto";
import type { OverflowReport } from "./types";

/** The event that tells the server what a full spool dropped (collector "agent", no process). */
export function overflowEvent(report: OverflowReport, nowUs: number): Event {
  return {
    timestampUs: nowUs,
    collector: "agent",
    process: undefined,
    payload: { $case: "spoolOverflow", value: { ...report, lostByReason: { ...report.lostByReason } } },
  };
}
