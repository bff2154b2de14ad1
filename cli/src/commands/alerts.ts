import type { EcsDocument } from "@vigil/common";

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
  const url = new URL("/api/v1/alerts", options.api);
  url.searchParams.set("limit", String(options.limit));
  if (options.level) url.searchParams.set("level", options.level);
  if (options.rule) url.searchParams.set("rule", options.rule);
  if (options.host) url.searchParams.set("host", options.host);
  if (since) url.searchParams.set("since", since);
  let response: Response;
  try {
    response = await fetch(url, {
      headers: options.token ? { authorization: `Bearer ${options.token}` } : {},
    });
  } catch (error) {
    throw new Error(
      `cannot reach the Vigil API at ${options.api} (${(error as Error).message}); is \`npm start\` running?`,
    );
  }
  const body = (await response.json()) as { alerts?: EcsDocument[]; message?: string };
  if (!response.ok) throw new Error(`API ${response.status}: ${body.message ?? JSON.stringify(body)}`);
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
