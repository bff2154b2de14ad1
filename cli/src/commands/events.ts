import type { EcsDocument } from "@vigil/common";
import { type Column, renderTable } from "../output/table";
import type { ApiOptions } from "./api-client";
import { investigationRequest } from "./events-api";
import { eventAction, eventDetail, eventExecutable, eventHost, eventPid, eventTime } from "./events-format";

// `vigil events`: search the stored events (GET /api/v1/events). One page of
// the newest N, printed oldest first, with the cursor of the next (older)
// page; --all reads every page oldest first and prints each as it comes.

export interface EventFilters {
  host?: string;
  hostId?: string;
  /** ISO times (parseTime resolves "15m"-style input). */
  since?: string;
  until?: string;
  categories?: string[];
  actions?: string[];
  executable?: string;
  entityId?: string;
  pid?: number;
  user?: string;
  dstIp?: string;
  dstPort?: number;
  path?: string;
  text?: string;
}

export interface EventsCommandOptions extends ApiOptions, EventFilters {
  /** How many events (the newest); not with `all`. */
  limit?: number;
  /** Continue a previous search from its next-page cursor. */
  cursor?: string;
  /** Every matching event, oldest first. */
  all?: boolean;
  /** Events per API request (at most EVENTS_API_PAGE). */
  pageSize?: number;
}

export interface EventPageAnswer {
  events: EcsDocument[];
  count: number;
  nextCursor: string | null;
}

/** The largest page the API serves. */
export const EVENTS_API_PAGE = 1000;
export const DEFAULT_EVENTS_LIMIT = 50;

export function eventsQuery(
  filters: EventFilters,
  page: { limit: number; order: "asc" | "desc"; cursor?: string },
): URLSearchParams {
  const query = new URLSearchParams({ limit: String(page.limit), order: page.order });
  const single: Array<[string, string | number | undefined]> = [
    ["host", filters.host],
    ["hostId", filters.hostId],
    ["from", filters.since],
    ["to", filters.until],
    ["executable", filters.executable],
    ["entityId", filters.entityId],
    ["pid", filters.pid],
    ["user", filters.user],
    ["dstIp", filters.dstIp],
    ["dstPort", filters.dstPort],
    ["path", filters.path],
    ["q", filters.text],
    ["cursor", page.cursor],
  ];
  for (const [key, value] of single) if (value !== undefined) query.set(key, String(value));
  for (const category of filters.categories ?? []) query.append("category", category);
  for (const action of filters.actions ?? []) query.append("action", action);
  return query;
}

export function fetchEventPage(
  options: ApiOptions,
  filters: EventFilters,
  page: { limit: number; order: "asc" | "desc"; cursor?: string },
): Promise<EventPageAnswer> {
  return investigationRequest<EventPageAnswer>(options, `/api/v1/events?${eventsQuery(filters, page)}`);
}

const COLUMNS: Column<EcsDocument>[] = [
  { header: "TIME", value: (e) => eventTime(e["@timestamp"]) },
  { header: "HOST", value: eventHost, shrink: true },
  { header: "ACTION", value: eventAction },
  { header: "PID", value: eventPid, align: "right" },
  { header: "EXECUTABLE", value: eventExecutable, shrink: true },
  { header: "DETAIL", value: eventDetail, shrink: true },
];

/** --all prints page after page: fixed widths keep the rows of every page aligned. */
const STREAM_COLUMNS: Column<EcsDocument>[] = [
  { ...COLUMNS[0], width: 23 },
  { ...COLUMNS[1], width: 16 },
  { ...COLUMNS[2], width: 17 },
  { ...COLUMNS[3], width: 7 },
  { ...COLUMNS[4], width: 28 },
  COLUMNS[5],
];

function pageSizeOf(options: EventsCommandOptions): number {
  const size = options.pageSize ?? EVENTS_API_PAGE;
  if (!Number.isInteger(size) || size < 1 || size > EVENTS_API_PAGE) {
    throw new Error(`--page-size: must be an integer from 1 to ${EVENTS_API_PAGE}`);
  }
  return size;
}

function printEvents(events: EcsDocument[], json: boolean, columns: Column<EcsDocument>[], header = true) {
  if (events.length === 0) return;
  if (json) {
    process.stdout.write(events.map((event) => `${JSON.stringify(event)}\n`).join(""));
    return;
  }
  const table = renderTable(events, columns);
  process.stdout.write(header ? table : table.slice(table.indexOf("\n") + 1));
}

/** `vigil events`: the newest matches (or every one with --all), oldest first. */
export async function showEvents(options: EventsCommandOptions): Promise<void> {
  if (options.all) {
    if (options.cursor !== undefined) throw new Error("--cursor: not with --all (--all reads every page)");
    if (options.limit !== undefined) throw new Error("-n: not with --all (--all prints every match)");
    return showAllEvents(options);
  }
  const limit = options.limit ?? DEFAULT_EVENTS_LIMIT;
  const events: EcsDocument[] = [];
  let cursor = options.cursor;
  let next: string | null = null;
  while (events.length < limit) {
    const page = await fetchEventPage(options, options, {
      limit: Math.min(pageSizeOf(options), limit - events.length),
      order: "desc",
      cursor,
    });
    events.push(...page.events);
    next = page.nextCursor;
    if (next === null || page.events.length === 0) break;
    cursor = next;
  }
  printEvents(events.reverse(), options.json, COLUMNS);
  const more = next === null ? "" : `; older ones: --cursor ${next}`;
  if (!options.json) {
    process.stderr.write(
      events.length === 0 ? "no events match\n" : `${events.length} newest matching events${more}\n`,
    );
  } else if (more) {
    process.stderr.write(`older events: --cursor ${next}\n`);
  }
}

async function showAllEvents(options: EventsCommandOptions): Promise<void> {
  let cursor: string | undefined;
  let printed = 0;
  for (;;) {
    const page = await fetchEventPage(options, options, { limit: pageSizeOf(options), order: "asc", cursor });
    printEvents(page.events, options.json, STREAM_COLUMNS, printed === 0);
    printed += page.events.length;
    if (page.nextCursor === null || page.events.length === 0) break;
    cursor = page.nextCursor;
  }
  if (!options.json) process.stderr.write(printed === 0 ? "no events match\n" : `${printed} events\n`);
}
