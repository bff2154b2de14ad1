// Alert pages are cut by keyset, not by offset: the cursor is the sort key
// (alert time, alert id) of the last alert returned, so the next page starts
// strictly below it and stays stable while new alerts arrive.

import { ErrorCodes, VigilError } from "../errors";

export interface AlertCursor {
  /** Alert time in the backend's unit (µs for SQLite, ms for Elasticsearch). */
  time: number;
  id: string;
}

const MAX_CURSOR_LENGTH = 512;

export function encodeAlertCursor(cursor: AlertCursor): string {
  return Buffer.from(JSON.stringify([cursor.time, cursor.id])).toString("base64url");
}

/** Throws VIGIL_ERR_ALERT_QUERY naming "cursor" when `text` is not a cursor this API gave out. */
export function decodeAlertCursor(text: string): AlertCursor {
  if (text.length > MAX_CURSOR_LENGTH || !/^[A-Za-z0-9_-]+$/.test(text)) return badCursor();
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(text, "base64url").toString("utf8"));
  } catch {
    return badCursor();
  }
  if (
    !Array.isArray(parsed) ||
    parsed.length !== 2 ||
    !Number.isSafeInteger(parsed[0]) ||
    typeof parsed[1] !== "string"
  ) {
    return badCursor();
  }
  return { time: parsed[0] as number, id: parsed[1] as string };
}

function badCursor(): never {
  throw new VigilError(
    ErrorCodes.ALERT_QUERY,
    "cursor: not a cursor from this API (pass nextCursor of the previous page unchanged)",
  );
}
