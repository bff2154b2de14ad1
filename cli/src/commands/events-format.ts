import type { EcsDocument } from "@vigil/common";

// How one stored event reads in a line: its time to the millisecond (a
// process's events often share a second), and what it did: the command line
// of an exec, the file of a file event, the peer of a connection, the name of
// a DNS query; otherwise the process's command line.

type Fields = Record<string, unknown>;

const objectAt = (value: unknown, key: string): Fields | undefined => {
  const child = (value as Fields | undefined)?.[key];
  return typeof child === "object" && child !== null && !Array.isArray(child) ? (child as Fields) : undefined;
};

const textAt = (value: Fields | undefined, key: string): string | undefined => {
  const field = value?.[key];
  return typeof field === "string" || typeof field === "number" ? String(field) : undefined;
};

/** "2026-11-23 14:29:20.117" (UTC); the value itself when it is not a time. */
export function eventTime(time: unknown): string {
  if (typeof time !== "string" && typeof time !== "number") return "-";
  const ms = typeof time === "number" ? time : Date.parse(time);
  if (!Number.isFinite(ms)) return String(time);
  return new Date(ms).toISOString().slice(0, 23).replace("T", " ");
}

export const eventAction = (event: EcsDocument): string => textAt(objectAt(event, "event"), "action") ?? "-";
export const eventHost = (event: EcsDocument): string =>
  textAt(objectAt(event, "host"), "name") ?? textAt(objectAt(event, "host"), "id") ?? "-";
export const eventPid = (event: EcsDocument): string => textAt(objectAt(event, "process"), "pid") ?? "-";

/** process.executable, else its name. */
export function eventExecutable(event: EcsDocument): string {
  const process = objectAt(event, "process");
  return textAt(process, "executable") ?? textAt(process, "name") ?? "-";
}

function endpoint(group: Fields | undefined): string | undefined {
  const ip = textAt(group, "ip") ?? textAt(group, "address");
  if (ip === undefined) return undefined;
  const port = textAt(group, "port");
  const host = ip.includes(":") && port !== undefined ? `[${ip}]` : ip;
  return port === undefined ? host : `${host}:${port}`;
}

/** What the event did, in a few words. */
export function eventDetail(event: EcsDocument): string {
  const action = eventAction(event);
  const process = objectAt(event, "process");
  const vigil = objectAt(event, "vigil");
  const commandLine =
    textAt(process, "command_line") ?? textAt(process, "executable") ?? textAt(process, "name");
  const path = textAt(objectAt(event, "file"), "path");
  const oldPath = textAt(vigil, "old_path");
  if (action === "exec") return commandLine ?? "-";
  if (action === "file-rename" && oldPath !== undefined && path !== undefined) return `${oldPath} -> ${path}`;
  if (path !== undefined) return path;
  const destination = endpoint(objectAt(event, "destination"));
  if (destination !== undefined) return `-> ${destination}`;
  const remote = textAt(vigil, "remote");
  const local = textAt(vigil, "local");
  const query = textAt(vigil, "query_name") ?? textAt(objectAt(objectAt(event, "dns"), "question"), "name");
  if (query !== undefined) return `query ${query}${remote === undefined ? "" : ` via ${remote}`}`;
  if (action === "accept" && remote !== undefined)
    return `<- ${remote}${local === undefined ? "" : ` on ${local}`}`;
  if (local !== undefined) return `on ${local}`;
  const childPid = textAt(vigil, "child_pid");
  if (action === "fork" && childPid !== undefined) return `child pid ${childPid}`;
  return commandLine ?? "-";
}
