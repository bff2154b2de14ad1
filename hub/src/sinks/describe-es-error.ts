import { errors } from "@elastic/elasticsearch";

/** An Elasticsearch client error in one line: status, error type and reason (never the request). */
export function describeEsError(error: unknown): string {
  if (error instanceof errors.ResponseError) {
    const body = error.body as { error?: { type?: string; reason?: string } } | undefined;
    return `HTTP ${error.statusCode}${body?.error?.type ? ` ${body.error.type}` : ""}${
      body?.error?.reason ? `: ${body.error.reason}` : ""
    }`;
  }
  return error instanceof Error ? error.message : String(error);
}
