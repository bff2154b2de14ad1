import {
  type AlertSink,
  type Bus,
  ErrorCodes,
  type Logger,
  SqliteAlertStore,
  startObservabilityServer,
  VigilError,
} from "@vigil/common";
import type { HubConfig } from "./config";
import { HubService } from "./hub-service";
import { SigmaRuleEvaluator } from "./rules/rule-evaluator";
import { loadRuleset, Ruleset } from "./sigma";
import { ElasticsearchSink } from "./sinks/elasticsearch-sink";

export interface RunningHub {
  service: HubService;
  stop(): Promise<void>;
}

/**
 * Loads and compiles the ruleset, opens the sinks, joins the shared consumer.
 * A rule that fails to compile is logged by name and left out; the hub refuses
 * to start only when no rule at all is usable.
 */
export async function startHub(config: HubConfig, bus: Bus, logger: Logger): Promise<RunningHub> {
  const loaded = loadRuleset(config.rulesDir);
  for (const error of loaded.errors) logger.error({ code: error.code }, error.message);
  if (loaded.rules.length === 0) {
    throw new VigilError(ErrorCodes.RULE_INVALID, `rulesDir: no usable rule in ${config.rulesDir}`);
  }
  const sinks = await openSinks(config, logger);
  const service = new HubService({
    bus,
    rules: new SigmaRuleEvaluator(new Ruleset(loaded.rules)),
    sinks,
    consumer: config.consumer,
    logger: logger.child({ component: "hub", hubId: config.hubId }),
  });
  await service.start();
  const observability = config.metrics
    ? await startObservabilityServer({
        ...config.metrics,
        registry: service.metricsRegistry,
        health: () => service.health(),
      })
    : undefined;
  return {
    service,
    stop: async () => {
      await service.stop();
      await observability?.close();
      for (const sink of sinks) await sink.close();
    },
  };
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
      },
      logger: logger.child({ sink: "elasticsearch" }),
    });
    await sink.start();
    sinks.push(sink);
  }
  return sinks;
}
