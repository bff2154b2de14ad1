// Public face of @vigil/hub.
export { DEFAULT_RULES_DIR, hubConfigSchema, loadHubConfig } from "./config";
export type { HubConfig } from "./config";
export { DEAD_LETTER_SUBJECT, HubService } from "./hub-service";
export type { HubConsumerSettings, HubServiceOptions, RuleEvaluator } from "./hub-service";
export { startHub } from "./start-hub";
export type { RunningHub } from "./start-hub";
export { alertId, buildAlert } from "./alerts/build-alert";
export type { AlertingRule } from "./alerts/build-alert";
export { SigmaRuleEvaluator } from "./rules/rule-evaluator";
export { compileRule, loadRuleset, Ruleset } from "./sigma";
export type { CompiledRule } from "./sigma";
export { ElasticsearchSink } from "./sinks/elasticsearch-sink";
export type { ElasticsearchSinkCounters, ElasticsearchSinkOptions } from "./sinks/elasticsearch-sink";
export { DEFAULT_ELASTICSEARCH_SINK_CONFIG, elasticsearchSinkConfig } from "./sinks/elasticsearch-config";
export type { ElasticsearchAuth, ElasticsearchSinkConfig } from "./sinks/elasticsearch-config";
export { ALERTS_DATA_STREAM, ALERTS_INDEX_TEMPLATE } from "./sinks/index-template";
export { SinkWriteError } from "./sinks/sink-write-error";
export type { RejectedAlert } from "./sinks/sink-write-error";
