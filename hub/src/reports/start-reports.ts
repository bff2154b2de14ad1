// Opens tiered reports from the hub's configuration and starts their schedule:
// level 1 from the events writer's SQLite store (events.storePath, with the
// alert store at alertStorePath) or else from Elasticsearch aggregations over
// vigil-events and vigil-alerts; reports as files under reports.dir or else in
// the index vigil-reports; one lease per period in the bus KV, and AI triage
// when reports.triage is on.

import { dirname, join } from "node:path";
import { type Bus, ErrorCodes, type Logger, VigilError } from "@vigil/common";
import type { HubConfig } from "../config";
import type { ElasticsearchConnection } from "../sinks/elasticsearch-config";
import { TriageClient } from "../triage/triage-client";
import { triageApiKey } from "../triage/triage-config";
import { TriageService } from "../triage/triage-service";
import type { CellSource } from "./cell-source";
import { ElasticsearchCellSource } from "./elasticsearch-cell-source";
import { ElasticsearchReportStore } from "./elasticsearch-report-store";
import { FileReportStore } from "./file-report-store";
import type { Period } from "./periods";
import { ReportGenerator } from "./report-generator";
import { REPORT_LOCK_BUCKET, ReportLock, reportLockKey } from "./report-lock";
import { ReportScheduler } from "./report-scheduler";
import type { ReportStore } from "./report-store";
import { type ReportsConfig, reportsConfigSchema } from "./reports-config";
import { SqliteCellSource } from "./sqlite-cell-source";
import type { Report } from "./types";

export interface RunningReports {
  store: ReportStore;
  source: CellSource;
  generator: ReportGenerator;
  scheduler: ReportScheduler;
  triage: TriageService | undefined;
  /**
   * On demand: generates `period` (missing children first) under its lease;
   * undefined when another instance holds the lease (it is being generated).
   */
  generate(period: Period): Promise<Report | undefined>;
  stop(): Promise<void>;
}

export interface StartReportsOptions {
  /** The schedule's clock (tests). */
  now?: () => number;
  /** Start the periodic schedule (default true; off, only `generate` and `scheduler.tick` run). */
  schedule?: boolean;
}

export async function startReports(
  config: HubConfig,
  bus: Bus,
  logger: Logger,
  options: StartReportsOptions = {},
): Promise<RunningReports> {
  return runReports(
    config.reports,
    openStore(config),
    openSource(config),
    bus,
    config.hubId,
    logger,
    options,
  );
}

/**
 * Reports as a distributed `vigil server` serves them: the hubs' store
 * (`vigil-reports`) and aggregations on the alerts' cluster, on-demand
 * generation under the same per-period leases; the hubs run the schedule.
 */
export async function openServerReports(
  connection: ElasticsearchConnection,
  bus: Bus,
  instanceId: string,
  logger: Logger,
): Promise<RunningReports> {
  const settings = reportsConfigSchema.parse({ enabled: true });
  return runReports(
    settings,
    new ElasticsearchReportStore(connection),
    new ElasticsearchCellSource({ ...connection, limits: settings.limits }),
    bus,
    instanceId,
    logger,
    { schedule: false },
  );
}

async function runReports(
  settings: ReportsConfig,
  store: ReportStore,
  source: CellSource,
  bus: Bus,
  instanceId: string,
  logger: Logger,
  options: StartReportsOptions,
): Promise<RunningReports> {
  const limits = settings.limits;
  let triage: TriageService | undefined;
  try {
    if (settings.triage.enabled) {
      const t = settings.triage;
      triage = new TriageService({
        client: new TriageClient({
          baseUrl: t.baseUrl as string,
          model: t.model as string,
          apiKey: triageApiKey(t),
          timeoutMs: t.timeoutMs,
          maxAttempts: t.maxAttempts,
          retryBaseDelayMs: t.retryBaseDelayMs,
          logger: logger.child({ component: "triage" }),
        }),
        store,
        config: t,
        logger: logger.child({ component: "triage" }),
      });
      await triage.start(bus);
    }
    const generator = new ReportGenerator({
      source,
      store,
      limits,
      logger,
      now: options.now,
      onStored: triage?.onReport,
    });
    const lock = new ReportLock(
      await bus.openKv(REPORT_LOCK_BUCKET),
      instanceId,
      settings.lockLeaseMs,
      options.now,
    );
    const scheduler = new ReportScheduler({
      generator,
      source,
      lock,
      intervalMs: settings.intervalMs,
      delayMs: settings.delayMs,
      graceMs: settings.graceMs,
      logger,
      now: options.now,
    });
    if (options.schedule !== false) scheduler.start();
    logger.info(
      { store: store.name, source: source.name, triage: triage !== undefined },
      "tiered reports running",
    );
    return {
      store,
      source,
      generator,
      scheduler,
      triage,
      generate: async (period) => {
        const notBeforeMs = await source.earliest();
        const done = await lock.withLock(reportLockKey(period.level, period.startMs), () =>
          generator.generate(period, { fillMissing: true, notBeforeMs }),
        );
        return done?.value;
      },
      stop: async () => {
        await scheduler.stop();
        await triage?.stop();
        await source.close();
        await store.close();
      },
    };
  } catch (error) {
    await triage?.stop().catch(() => undefined);
    await source.close().catch(() => undefined);
    await store.close().catch(() => undefined);
    throw error;
  }
}

function openStore(config: HubConfig): ReportStore {
  if (config.reports.dir) return new FileReportStore(config.reports.dir);
  const es = elasticsearchOf(config);
  if (es) return new ElasticsearchReportStore(es);
  throw new VigilError(
    ErrorCodes.CONFIG_INVALID,
    "reports.dir: reports are on but have nowhere to be stored (set reports.dir or elasticsearch.nodes)",
  );
}

/** The hub's cluster as a connection (the alert sink's credentials and CA). */
export function elasticsearchOf(config: HubConfig): ElasticsearchConnection | undefined {
  const es = config.elasticsearch;
  if (!es) return undefined;
  return {
    nodes: es.nodes,
    auth: es.apiKey
      ? { apiKey: es.apiKey }
      : es.username && es.password
        ? { username: es.username, password: es.password }
        : undefined,
    caFile: es.caFile,
    requestTimeoutMs: es.requestTimeoutMs,
  };
}

function openSource(config: HubConfig): CellSource {
  const eventsPath = config.events.storePath;
  if (eventsPath) {
    return new SqliteCellSource({
      eventsPath,
      alertsPath: config.alertStorePath,
      firstSeenPath: join(config.reports.dir ?? dirname(eventsPath), "first-seen.db"),
      limits: config.reports.limits,
    });
  }
  const es = elasticsearchOf(config);
  if (es) return new ElasticsearchCellSource({ ...es, limits: config.reports.limits });
  throw new VigilError(
    ErrorCodes.CONFIG_INVALID,
    "events.storePath: reports are aggregated from the events writer's store (set events.storePath or elasticsearch.nodes)",
  );
}
