// Checks an EventSearch before either store runs it, naming the first bad
// field, so SQLite and Elasticsearch refuse the same searches the same way.

import { ErrorCodes, VigilError } from "../errors";
import { type EventOrder, type EventSearch, MAX_EVENT_PAGE_SIZE, MAX_EVENT_TEXT_LENGTH } from "./types";

export interface CheckedEventSearch extends EventSearch {
  order: EventOrder;
}

const STRING_FILTERS = [
  "hostId",
  "hostName",
  "executable",
  "processEntityId",
  "userName",
  "destinationIp",
  "filePathPrefix",
  "text",
] as const;

export function checkEventSearch(search: EventSearch): CheckedEventSearch {
  if (!Number.isSafeInteger(search.size) || search.size < 1 || search.size > MAX_EVENT_PAGE_SIZE) {
    throw bad(`size: must be an integer from 1 to ${MAX_EVENT_PAGE_SIZE}`);
  }
  for (const key of STRING_FILTERS) {
    const value = search[key];
    if (value === undefined) continue;
    if (typeof value !== "string" || value === "") throw bad(`${key}: must be a non-empty string`);
    if (value.length > MAX_EVENT_TEXT_LENGTH)
      throw bad(`${key}: longer than ${MAX_EVENT_TEXT_LENGTH} characters`);
  }
  for (const key of ["categories", "actions"] as const) {
    const values = search[key];
    if (values === undefined) continue;
    if (!Array.isArray(values) || values.length > 32) throw bad(`${key}: must be a list of at most 32 names`);
    for (const value of values) {
      if (typeof value !== "string" || value === "" || value.length > 64) {
        throw bad(`${key}: "${String(value).slice(0, 64)}" is not a name`);
      }
    }
  }
  for (const key of ["fromMs", "toMs"] as const) {
    const value = search[key];
    if (value !== undefined && !Number.isSafeInteger(value)) throw bad(`${key}: must be a time in ms`);
  }
  if (search.fromMs !== undefined && search.toMs !== undefined && search.fromMs >= search.toMs) {
    throw bad("from: must be before to");
  }
  if (search.pid !== undefined && (!Number.isSafeInteger(search.pid) || search.pid <= 0)) {
    throw bad("pid: must be a positive integer");
  }
  if (
    search.destinationPort !== undefined &&
    (!Number.isSafeInteger(search.destinationPort) ||
      search.destinationPort < 0 ||
      search.destinationPort > 65535)
  ) {
    throw bad("destinationPort: must be a port from 0 to 65535");
  }
  const order = search.order ?? "desc";
  if (order !== "asc" && order !== "desc") throw bad('order: must be "asc" or "desc"');
  return { ...search, order };
}

function bad(message: string): VigilError {
  return new VigilError(ErrorCodes.EVENT_QUERY, message);
}
