import {
  type AlertSink,
  type Bus,
  ErrorCodes,
  type Logger,
  SqliteAlertStore,
  startObservabilityServer,
  VigilError,
} from "@vigil/common";
import { AlertDeduplicator, alertDedupBucket } from "./alerts/alert-dedup";
import type { HubConfig } from "./config";
import { CORRELATION_BUCKET } from "./correlation/correlation-bucket";
import { CorrelationEngine } from "./correlation/correlation-engine";
import { registerCorrelationMetrics } from "./correlation/correlation-metrics";
import { loadRuleSources } from "./correlation/load-rule-sources";
import { withEventsWriterHealth } from "./events/events-health";
import { type RunningEventsWriter, startEventsWriter } from "./events/start-events-writer";
import { HubService } from "./hub-service";
import { WebhookNotifier } from "./notify/webhook-notifier";
import { type RunningReports, startReports } from "./reports/start-reports";
import { LiveRuleEvaluator } from "./rules/live-rule-evaluator";
import { SigmaRuleEvaluator } from "./rules/rule-evaluator";
import { RULESETS_BUCKET } from "./rules/ruleset-kv";
import { registerRulesetMetrics } from "./rules/ruleset-metrics";
import { RulesetWatcher } from "./rules/ruleset-watcher";
import { Ruleset } from "./sigma";
import { ElasticsearchSink } from "./sinks/elasticsearch-sink";

export interface RunningHub {
  service: HubService;
  /** Follows the KV ruleset (absent when watchRulesets is off). */
  rulesets: RulesetWatcher | undefined;
  /** Keeps events for investigation (absent unless events.enabled). */
  events: RunningEventsWriter | undefined;
  /** Port of /healthz and /metrics (absent unless metrics is set). */
  metricsPort: number | undefined;
  /** Tiered reports on schedule (absent unless reports.enabled). */
  reports: RunningReports | undefined;
  stop(): Promise<void>;
}

/**
 * Loads and compiles the ruleset (the bus KV's current version when there is
 * one, else rulesDir), opens the sinks, joins the shared consumer, and follows
 * new KV ruleset versions without a restart. A rule in rulesDir that fails to
 * compile is logged by name and left out; the hub refuses to start only when
 * no rule at all is usable.
 */
export async function startHub(config: HubConfig, bus: Bus, logger: Logger): Promise<RunningHub> {
  const rules = new LiveRuleEvaluator(new SigmaRuleEvaluator(new Ruleset([])));
  const rulesets = config.watchRulesets
    ? new RulesetWatcher({
        kv: await bus.openKv(RULESETS_BUCKET),
        evaluator: rules,
        logger: logger.child({ component: "rulesets" }),
      })
    : undefined;
  if (!(await rulesets?.loadCurrent())) rules.swap(loadRulesDir(config, logger));
  await rulesets?.start();
  const sinks = await openSinks(config, logger);
  const correlation = new CorrelationEngine({
    kv: await bus.openKv(CORRELATION_BUCKET),
    logger: logger.child({ component: "correlation" }),
  });
  const service = new HubService({
    bus,
    rules,
    sinks,
    consumer: config.consumer,
    logger: logger.child({ component: "hub", hubId: config.hubId }),
    correlation,
    dedup: new AlertDeduplicator({
      kv: await bus.openKv(alertDedupBucket()),
      defaults:
        config.alerts.dedupWindowMs > 0
          ? { fields: config.alerts.dedupFields, windowMs: config.alerts.dedupWindowMs }
          : undefined,
    }),
  });
  registerRulesetMetrics(service.metricsRegistry, rules, rulesets);
  registerCorrelationMetrics(service.metricsRegistry, correlation);
  await service.start();
  const notifiers = config.notify.webhooks.map(
    (webhook) => new WebhookNotifier({ bus, webhook, logger: logger.child({ component: "notify" }) }),
  );
  for (const notifier of notifiers) await notifier.start();
  const events =
    config.events.enabled === true
      ? await startEventsWriter(config, bus, logger.child({ component: "events" }), service.metricsRegistry)
      : undefined;
  const reports =
    config.reports.enabled === true
      ? await startReports(config, bus, logger.child({ component: "reports" }))
      : undefined;
  const observability = config.metrics
    ? await startObservabilityServer({
        ...config.metrics,
        registry: service.metricsRegistry,
        health: () => withEventsWriterHealth(service.health(), events?.writer),
      })
    : undefined;
  return {
    service,
    rulesets,
    events,
    metricsPort: observability?.port,
    reports,
    stop: async () => {
      rulesets?.stop();
      await reports?.stop();
      await events?.stop();
      for (const notifier of notifiers) await notifier.stop();
      await service.stop();
      await observability?.close();
      for (const sink of sinks) await sink.close();
    },
  };
}

function loadRulesDir(config: HubConfig, logger: Logger): SigmaRuleEvaluator {
  const loaded = loadRuleSources(config.rulesDir);
  for (const error of loaded.errors) logger.error({ code: error.code }, error.message);
  if (loaded.rules.length === 0) {
    throw new VigilError(ErrorCodes.RULE_INVALID, `rulesDir: no usable rule in ${config.rulesDir}`);
  }
  return new SigmaRuleEvaluator(new Ruleset(loaded.rules), "1", loaded.correlations);
}

async function openSinks(config: HubConfig, logger: Logger): Promise<AlertSink[]> {
  const sinks: AlertSink[] = [];
  if (config.alertStorePath) sinks.push(new SqliteAlertStore({ path: config.alertStorePath, logger }));
  if (config.elasticsearch) {
    const es = config.elasticsearch;
    const auth = es.apiKey
      ? { apiKey: es.apiKey }
      : es.username && es.password
        ? { username: es.username, password: es.password }
        : undefined;
    const sink = new ElasticsearchSink({
      config: {
        nodes: es.nodes,
        auth,
        caFile: es.caFile,
        requestTimeoutMs: es.requestTimeoutMs,
        maxRetries: es.maxRetries,
        retention: es.retention,
        ilmPolicy: es.ilmPolicy,
        maxBatchItems: es.maxBatchItems,
        maxBatchBytes: es.maxBatchBytes,
        maxConcurrentRequests: es.maxConcurrentRequests,
      },
      logger: logger.child({ sink: "elasticsearch" }),
    });
    await sink.start();
    sinks.push(sink);
  }
  return sinks;
}
