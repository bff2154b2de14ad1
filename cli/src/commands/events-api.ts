import { ApiError, type ApiOptions, apiRequest } from "./api-client";

// The investigation endpoints (events, process tree, alert context) as the
// CLI calls them: the API's 400 names its query parameter, which is said here
// as the command's option, and a server without an event store says what to
// turn on.

/** API query parameter -> the option of `vigil events` / `events tree` / `alerts context` that sets it. */
const OPTION_OF: Record<string, string> = {
  host: "--host",
  hostId: "--host-id",
  from: "--since",
  to: "--until",
  category: "--category",
  action: "--action",
  executable: "--executable",
  entityId: "--entity-id",
  pid: "--pid",
  user: "--user",
  dstIp: "--dst-ip",
  dstPort: "--dst-port",
  path: "--path",
  q: "-q",
  limit: "-n",
  cursor: "--cursor",
  at: "--at",
  minutes: "--minutes",
};

/** "from: must be before to" -> "--since: must be before --until"; the schema's "querystring.pid: must be >= 1" too. */
export function optionMessage(message: string): string {
  return message
    .replace(
      /^(?:querystring[./])?([A-Za-z]+)(?= or |:| )/,
      (whole, name: string) => OPTION_OF[name] ?? whole,
    )
    .replace(/ or pid:/, " or --pid:")
    .replace(/ before to$/, " before --until");
}

const NO_EVENT_STORE =
  "no event store: enable hub.events / events.enabled (the hubs' events writer keeps events in SQLite in embedded mode, on unless hub.events.enabled is false, and in the vigil-events data stream that `vigil server` reads through alerts.elasticsearch)";

/** GET `path` of the investigation API, with its errors said in the CLI's terms. */
export async function investigationRequest<T>(options: ApiOptions, path: string): Promise<T> {
  try {
    return await apiRequest<T>(options, "GET", path);
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    const message = typeof error.answer.message === "string" ? error.answer.message : undefined;
    if (error.status === 400 && message !== undefined) {
      throw new ApiError(`API 400: ${optionMessage(message)}`, error.status, error.answer);
    }
    if (error.status === 503 && error.answer.error === "no_event_store") {
      throw new ApiError(`API 503: ${NO_EVENT_STORE}`, error.status, error.answer);
    }
    throw error;
  }
}
