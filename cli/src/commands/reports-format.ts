import type { Analysis, Report } from "@vigil/hub";
import { type Column, renderTable, shortTime } from "../output/table";

// A report for people: a heading, the totals with their trend, then one
// table per section (event types, top commands, first sightings, users,
// alerts), and the AI analysis when there is one. A list that was cut says so.

type Delta = NonNullable<Report["trend"]>["events"];

/** "↑ +3 (+42.9%)", "↓ -2 (-50.0%)", "→ 0", "↑ +4 (new)" when there was nothing before. */
export function trendArrow(delta: Delta): string {
  const arrow = delta.change > 0 ? "↑" : delta.change < 0 ? "↓" : "→";
  if (delta.change === 0) return `${arrow} 0`;
  const sign = delta.change > 0 ? "+" : "";
  const percent = delta.changePercent === null ? "new" : `${sign}${delta.changePercent.toFixed(1)}%`;
  return `${arrow} ${sign}${delta.change} (${percent})`;
}

function scopeText(report: Pick<Report, "scope" | "hostName">): string {
  return report.scope === "fleet" ? "fleet" : `${report.hostName ?? "?"} (${report.scope.slice(5)})`;
}

function section(title: string, count: number | undefined, cut: boolean): string {
  const counted = count === undefined ? "" : ` (${count})`;
  return `\n${title}${counted}${cut ? " — cut to the largest; more below this bound" : ""}\n`;
}

function table<T>(rows: readonly T[], columns: readonly Column<T>[]): string {
  return rows.length === 0 ? "  none\n" : renderTable(rows, columns);
}

export function renderReport(report: Report, analysis: Analysis | null | undefined): string {
  const out: string[] = [];
  const trend = report.trend;
  out.push(
    `${report.levelName} report ${report.period.label} · ${scopeText(report)} · ${report.hosts} host${report.hosts === 1 ? "" : "s"}\n`,
    `period ${shortTime(report.period.start)} → ${shortTime(report.period.end)} UTC, generated ${shortTime(report.generatedAt)}\n`,
  );
  const totals: Array<{ what: string; count: number; delta?: Delta }> = [
    { what: "events", count: report.events.total, delta: trend?.events },
    { what: "alerts", count: report.alerts.total, delta: trend?.alerts },
    { what: "new executables", count: report.newExecutables.count, delta: trend?.newExecutables },
    { what: "new listening ports", count: report.newListeningPorts.count, delta: trend?.newListeningPorts },
    { what: "new destinations", count: report.newDestinations.count, delta: trend?.newDestinations },
  ];
  out.push(
    trend
      ? section(
          `TOTALS, against ${trend.previousLabel}${trend.previousFound ? "" : " (no report of it)"}`,
          undefined,
          false,
        )
      : section("TOTALS", undefined, false),
  );
  out.push(
    renderTable(totals, [
      { header: "WHAT", value: (row) => row.what },
      { header: "COUNT", value: (row) => String(row.count), align: "right" },
      ...(trend
        ? [{ header: "TREND", value: (row: (typeof totals)[number]) => trendArrow(row.delta as Delta) }]
        : []),
    ]),
  );

  const typeTrend = new Map((trend?.byType ?? []).map((entry) => [entry.key, entry]));
  out.push(section("EVENTS BY TYPE", undefined, !report.events.byType.complete));
  out.push(
    table(report.events.byType.entries, [
      { header: "TYPE", value: (row) => row.key },
      { header: "COUNT", value: (row) => String(row.count), align: "right" },
      ...(trend
        ? [
            {
              header: "TREND",
              value: (row: { key: string }) => {
                const delta = typeTrend.get(row.key);
                return delta ? trendArrow(delta) : "";
              },
            },
          ]
        : []),
    ]),
  );

  out.push(section("TOP COMMANDS", undefined, !report.commands.complete));
  out.push(
    table(report.commands.entries, [
      { header: "COUNT", value: (row) => String(row.count), align: "right" },
      { header: "COMMAND", value: (row) => row.key, shrink: true },
    ]),
  );

  const multiHost = report.scope === "fleet";
  const hostColumn = multiHost ? [{ header: "HOST", value: (row: { hostId: string }) => row.hostId }] : [];
  out.push(
    section(
      "NEW EXECUTABLES",
      report.newExecutables.count,
      report.newExecutables.items.length < report.newExecutables.count,
    ),
  );
  out.push(
    table(report.newExecutables.items, [
      { header: "FIRST SEEN", value: (row) => shortTime(row.firstSeen) },
      ...hostColumn,
      { header: "SHA256", value: (row) => row.sha256.slice(0, 16) },
      { header: "EXECUTABLE", value: (row) => row.executable ?? "-", shrink: true },
    ]),
  );
  out.push(
    section(
      "NEW LISTENING PORTS",
      report.newListeningPorts.count,
      report.newListeningPorts.items.length < report.newListeningPorts.count,
    ),
  );
  out.push(
    table(report.newListeningPorts.items, [
      { header: "FIRST SEEN", value: (row) => shortTime(row.firstSeen) },
      ...hostColumn,
      { header: "PORT", value: (row) => String(row.port), align: "right" },
      { header: "EXECUTABLE", value: (row) => row.executable ?? "-", shrink: true },
    ]),
  );
  out.push(
    section(
      "NEW DESTINATIONS",
      report.newDestinations.count,
      report.newDestinations.items.length < report.newDestinations.count,
    ),
  );
  out.push(
    table(report.newDestinations.items, [
      { header: "FIRST SEEN", value: (row) => shortTime(row.firstSeen) },
      ...hostColumn,
      { header: "DESTINATION", value: (row) => (row.port === null ? row.ip : `${row.ip}:${row.port}`) },
    ]),
  );

  out.push(section("USERS", undefined, !report.users.complete));
  out.push(
    table(report.users.entries, [
      { header: "USER", value: (row) => row.key },
      { header: "EVENTS", value: (row) => String(row.count), align: "right" },
    ]),
  );

  out.push(section("ALERTS BY RULE", report.alerts.total, false));
  out.push(
    table(report.alerts.byRule, [
      { header: "COUNT", value: (row) => String(row.count), align: "right" },
      { header: "LEVEL", value: (row) => row.level },
      { header: "RULE", value: (row) => row.ruleName, shrink: true },
    ]),
  );
  const severities = Object.entries(report.alerts.bySeverity)
    .reverse()
    .map(([level, count]) => `${level} ${count}`)
    .join(" · ");
  out.push(`\nby severity: ${severities}\n`);

  if (analysis) out.push(renderAnalysis(analysis));
  return out.join("");
}

function renderAnalysis(analysis: Analysis): string {
  const heading = `\nAI ANALYSIS (${analysis.model}, ${shortTime(analysis.createdAt)})\n`;
  if (analysis.status === "missing") {
    return `${heading}  missing after ${analysis.attempts} attempt(s): ${analysis.reason ?? "no reason given"}\n`;
  }
  const findings = analysis.findings ?? [];
  return [
    heading,
    `${analysis.summary ?? ""}\n`,
    findings.length === 0
      ? "  no findings\n"
      : renderTable(findings, [
          { header: "SEVERITY", value: (row) => row.severity },
          { header: "CATEGORY", value: (row) => row.category },
          { header: "FINDING", value: (row) => row.description, shrink: true },
        ]),
  ].join("");
}

export interface ReportListRow {
  id: string;
  levelName: string;
  scope: string;
  hostName: string | null;
  period: { label: string };
  generatedAt: string;
  events: number;
  alerts: number;
  newExecutables: number;
  hasAnalysis: boolean;
}

export function renderReportList(rows: readonly ReportListRow[]): string {
  return renderTable(rows, [
    { header: "LEVEL", value: (row) => row.levelName },
    { header: "PERIOD", value: (row) => row.period.label },
    { header: "SCOPE", value: (row) => scopeText({ scope: row.scope, hostName: row.hostName }) },
    { header: "EVENTS", value: (row) => String(row.events), align: "right" },
    { header: "ALERTS", value: (row) => String(row.alerts), align: "right" },
    { header: "NEW EXES", value: (row) => String(row.newExecutables), align: "right" },
    { header: "ANALYSIS", value: (row) => (row.hasAnalysis ? "yes" : "-") },
    { header: "GENERATED", value: (row) => shortTime(row.generatedAt) },
  ]);
}
