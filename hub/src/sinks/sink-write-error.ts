// The error an Elasticsearch write throws. It says which alerts are not stored
// and, of those, which ES refused on their own merits (a retry will not help),
// so the hub can nak the batch for redelivery or set poison alerts aside.

import { ErrorCodes, VigilError } from "@vigil/common";

export interface RejectedAlert {
  alertId: string;
  /** HTTP status of the bulk item (0 when it never reached Elasticsearch). */
  status: number;
  /** ES error type, e.g. document_parsing_exception. */
  type: string;
  reason: string;
}

export class SinkWriteError extends VigilError {
  /** Alerts refused permanently (mapping/parsing errors, unserialisable documents). */
  readonly rejected: readonly RejectedAlert[];
  /** Every alert of the batch that is not stored, rejected ones included. */
  readonly unstoredIds: readonly string[];

  constructor(
    message: string,
    rejected: RejectedAlert[],
    unstoredIds: string[],
    options?: { cause?: unknown },
  ) {
    super(ErrorCodes.SINK_WRITE, message, options);
    this.name = "SinkWriteError";
    this.rejected = rejected;
    this.unstoredIds = unstoredIds;
  }

  /** True when retrying the same alerts cannot succeed for some of them. */
  get permanent(): boolean {
    return this.rejected.length > 0;
  }
}
