// The Slack-style JSON body a webhook receives for one alert: `text` for
// clients that show only that, and `blocks` (Block Kit) with the rule, host,
// severity, process and a link, so a SOC channel reads the alert at a glance.
// Incoming-webhook receivers that speak this shape (Slack, Mattermost,
// Rocket.Chat, most chat bridges) accept it as is.

import type { AlertLevel, EcsDocument } from "@vigil/common";

export interface SlackMessage {
  text: string;
  blocks: Array<Record<string, unknown>>;
}

/** Longest value put in one field: Slack refuses section fields over 2000 characters. */
const MAX_FIELD_CHARS = 500;

const LEVEL_MARK: Record<AlertLevel, string> = {
  informational: "[info]",
  low: "[low]",
  medium: "[medium]",
  high: "[HIGH]",
  critical: "[CRITICAL]",
};

/** `link` is where an analyst opens the alert (e.g. Kibana); omitted when undefined. */
export function slackMessage(alert: EcsDocument, level: AlertLevel, link: string | undefined): SlackMessage {
  const rule = (alert.rule ?? {}) as EcsDocument;
  const host = (alert.host ?? {}) as EcsDocument;
  const event = (alert.event ?? {}) as EcsDocument;
  const process = (alert.process ?? {}) as EcsDocument;
  const parent = (process.parent ?? {}) as EcsDocument;
  const user = (alert.user ?? {}) as EcsDocument;
  const count = (((alert.vigil ?? {}) as EcsDocument).alert as EcsDocument | undefined)?.count;
  const ruleName = String(rule.name ?? "unknown rule");
  const hostName = String(host.name ?? host.hostname ?? "unknown host");
  // Slack reads &, < and > as markup everywhere, the fallback text included.
  const text = escapeMrkdwn(`${LEVEL_MARK[level]} ${ruleName} on ${hostName}`);
  const fields: Array<[string, unknown]> = [
    ["Rule", ruleName],
    ["Host", hostName],
    ["Severity", `${level} (${event.severity ?? "?"})`],
    ["User", user.name],
    ["Process", process.command_line ?? process.executable],
    ["Parent", parent.command_line ?? parent.executable],
  ];
  if (typeof count === "number" && count > 1) fields.push(["Occurrences", count]);
  const blocks: Array<Record<string, unknown>> = [
    {
      type: "header",
      text: { type: "plain_text", text: clip(`${LEVEL_MARK[level]} ${ruleName} on ${hostName}`, 150) },
    },
    {
      type: "section",
      fields: fields
        .filter(([, value]) => value !== undefined && value !== "")
        .map(([name, value]) => ({
          type: "mrkdwn",
          text: `*${name}*\n${escapeMrkdwn(clip(String(value), MAX_FIELD_CHARS))}`,
        })),
    },
  ];
  if (alert.message) {
    blocks.push({
      type: "section",
      text: { type: "mrkdwn", text: escapeMrkdwn(clip(String(alert.message), 2000)) },
    });
  }
  const context = [`alert ${event.id ?? "?"}`, `rule ${rule.id ?? "?"}`, String(alert["@timestamp"] ?? "")];
  blocks.push({ type: "context", elements: [{ type: "mrkdwn", text: escapeMrkdwn(context.join(" · ")) }] });
  if (link) {
    blocks.push({
      type: "actions",
      elements: [{ type: "button", text: { type: "plain_text", text: "Open alert" }, url: link }],
    });
  }
  return { text, blocks };
}

function clip(value: string, max: number): string {
  return value.length > max ? `${value.slice(0, max - 1)}…` : value;
}

/** Slack mrkdwn control characters: an attacker-chosen command line must not become a link or mention. */
function escapeMrkdwn(value: string): string {
  return value.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");
}
