// Event pages are cut by keyset: the cursor is the sort key (event time in ms,
// event id) of the last event returned and the order it was read in, so the
// next page continues strictly after it while new events arrive.

import { ErrorCodes, VigilError } from "../errors";
import type { EventOrder } from "./types";

export interface EventCursor {
  order: EventOrder;
  tsMs: number;
  id: string;
}

const MAX_CURSOR_LENGTH = 512;

export function encodeEventCursor(cursor: EventCursor): string {
  return Buffer.from(JSON.stringify([cursor.order, cursor.tsMs, cursor.id])).toString("base64url");
}

/** Throws VIGIL_ERR_EVENT_QUERY naming "cursor" unless `text` is a cursor of a search in `order`. */
export function decodeEventCursor(text: string, order: EventOrder): EventCursor {
  if (text.length > MAX_CURSOR_LENGTH || !/^[A-Za-z0-9_-]+$/.test(text)) return badCursor();
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(text, "base64url").toString("utf8"));
  } catch {
    return badCursor();
  }
  if (
    !Array.isArray(parsed) ||
    parsed.length !== 3 ||
    (parsed[0] !== "asc" && parsed[0] !== "desc") ||
    !Number.isSafeInteger(parsed[1]) ||
    typeof parsed[2] !== "string"
  ) {
    return badCursor();
  }
  if (parsed[0] !== order) {
    throw new VigilError(
      ErrorCodes.EVENT_QUERY,
      `cursor: it continues a search in ${parsed[0]} order, this one is ${order}`,
    );
  }
  return { order, tsMs: parsed[1] as number, id: parsed[2] as string };
}

function badCursor(): never {
  throw new VigilError(
    ErrorCodes.EVENT_QUERY,
    "cursor: not a cursor from this API (pass nextCursor of the previous page unchanged)",
  );
}
