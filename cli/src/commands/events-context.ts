import type { AlertContext, EcsDocument } from "@vigil/common";
import { alertLevelOf } from "./alerts";
import type { ApiOptions } from "./api-client";
import { investigationRequest } from "./events-api";
import { eventTime } from "./events-format";
import { renderProcessTree, type TreeBounds, treeBoundsQuery } from "./events-tree";

// `vigil alerts context <alert-id> [--minutes N]`: the alert, then its
// process's ancestry, the process and its descendants with what they did
// within ±N minutes of it (GET /api/v1/alerts/:id/context).

export interface AlertContextCommandOptions extends ApiOptions, TreeBounds {
  /** Minutes either side of the alert (the API's default is 5). */
  minutes?: number;
}

const text = (document: EcsDocument, group: string, name: string): string | undefined => {
  const value = (document[group] as EcsDocument | undefined)?.[name];
  return typeof value === "string" || typeof value === "number" ? String(value) : undefined;
};

/** The alert and its window as the lines above the tree. */
export function renderAlertContext(context: AlertContext): string {
  const { alert } = context;
  const lines = [
    [
      `alert ${text(alert, "event", "id") ?? "?"}`,
      alertLevelOf(alert).toUpperCase() || "-",
      text(alert, "rule", "name") ?? text(alert, "rule", "id") ?? "-",
      eventTime(alert["@timestamp"]),
      `host ${text(alert, "host", "name") ?? text(alert, "host", "id") ?? "-"}`,
    ].join("  "),
  ];
  if (typeof alert.message === "string" && alert.message !== "") lines.push(alert.message);
  lines.push(`events from ${eventTime(context.fromMs)} to ${eventTime(context.toMs)}`);
  const head = `${lines.join("\n")}\n\n`;
  if (context.tree === null) {
    return `${head}no process tree: the alert names no process, or none of its process's events are stored (excluded, sampled out or past retention)\n`;
  }
  return head + renderProcessTree(context.tree);
}

export async function showAlertContext(options: AlertContextCommandOptions, alertId: string): Promise<void> {
  const query = treeBoundsQuery(options);
  if (options.minutes !== undefined) query.set("minutes", String(options.minutes));
  const context = await investigationRequest<AlertContext>(
    options,
    `/api/v1/alerts/${encodeURIComponent(alertId)}/context?${query}`,
  );
  process.stdout.write(options.json ? `${JSON.stringify(context)}\n` : renderAlertContext(context));
}
