// Sorts the per-item results of a _bulk create into stored, retryable and
// rejected, by position (ES answers items in request order).

import type { estypes } from "@elastic/elasticsearch";
import type { RejectedAlert } from "./sink-write-error";

export interface BulkItemOutcome {
  /** Created now (201) or already there (409 on create: a redelivery). */
  stored: number;
  duplicates: number;
  /** Positions in the request to send again (429, 5xx). */
  retry: number[];
  /** Last retryable problem seen, for logs and the final error. */
  retryReason: string | undefined;
  rejected: RejectedAlert[];
}

export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

export function classifyBulkItems(
  alertIds: readonly string[],
  response: estypes.BulkResponse,
): BulkItemOutcome {
  const outcome: BulkItemOutcome = {
    stored: 0,
    duplicates: 0,
    retry: [],
    retryReason: undefined,
    rejected: [],
  };
  for (let position = 0; position < alertIds.length; position++) {
    const alertId = alertIds[position] as string;
    const item = response.items[position]?.create;
    if (item === undefined) {
      // Fewer items than operations: not an ES we understand; resending is safe.
      outcome.retry.push(position);
      outcome.retryReason = `response has no result for alert ${alertId}`;
      continue;
    }
    const status = item.status;
    if (status >= 200 && status < 300) {
      outcome.stored++;
    } else if (status === 409) {
      outcome.duplicates++;
    } else if (isRetryableStatus(status)) {
      outcome.retry.push(position);
      outcome.retryReason = `${status} ${describeCause(item.error)}`;
    } else {
      outcome.rejected.push({
        alertId,
        status,
        type: item.error?.type ?? "unknown",
        reason: describeCause(item.error),
      });
    }
  }
  return outcome;
}

/** "type: reason (caused by type: reason)", as ES nests them. */
export function describeCause(error: estypes.ErrorCause | undefined): string {
  if (error === undefined) return "no error detail";
  const own = `${error.type}: ${error.reason ?? ""}`;
  return error.caused_by ? `${own} (caused by ${describeCause(error.caused_by)})` : own;
}
