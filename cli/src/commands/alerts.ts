import type { EcsDocument } from "@vigil/common";
import { apiRequest } from "./api-client";

export interface AlertsCommandOptions {
  api: string;
  token?: string;
  level?: string;
  rule?: string;
  host?: string;
  limit: number;
  json: boolean;
  follow: boolean;
}

/** `vigil alerts`: newest alerts from the REST API as a table (or JSON lines). */
export async function showAlerts(options: AlertsCommandOptions): Promise<void> {
  let since: string | undefined;
  const seen = new Set<string>();
  for (;;) {
    const alerts = await fetchAlerts(options, since);
    const fresh = alerts.filter((alert) => !seen.has(alertIdOf(alert))).reverse();
    for (const alert of fresh) {
      seen.add(alertIdOf(alert));
      process.stdout.write(options.json ? `${JSON.stringify(alert)}\n` : `${formatAlert(alert)}\n`);
    }
    if (!options.follow) {
      if (alerts.length === 0 && !options.json) process.stdout.write("no alerts\n");
      return;
    }
    const newest = alerts[0]?.["@timestamp"];
    if (typeof newest === "string") since = newest;
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

async function fetchAlerts(options: AlertsCommandOptions, since: string | undefined): Promise<EcsDocument[]> {
  const query = new URLSearchParams({ limit: String(options.limit) });
  if (options.level) query.set("level", options.level);
  if (options.rule) query.set("rule", options.rule);
  if (options.host) query.set("host", options.host);
  if (since) query.set("since", since);
  const body = await apiRequest<{ alerts?: EcsDocument[] }>(options, "GET", `/api/v1/alerts?${query}`);
  return body.alerts ?? [];
}

function alertIdOf(alert: EcsDocument): string {
  return String((alert.event as EcsDocument | undefined)?.id ?? "");
}

function formatAlert(alert: EcsDocument): string {
  const vigil = (alert.vigil ?? {}) as EcsDocument;
  const level = String(((vigil.alert ?? {}) as EcsDocument).level ?? "")
    .toUpperCase()
    .padEnd(8);
  const time = String(alert["@timestamp"] ?? "")
    .replace("T", " ")
    .replace("Z", "");
  return `${time}  ${level}  ${String(alert.message ?? "")}`;
}
