// Public face of @vigil/hub.
export { DEFAULT_RULES_DIR, hubConfigSchema, loadHubConfig } from "./config";
export type { HubConfig } from "./config";
export { HubService } from "./hub-service";
export type { HubConsumerSettings, HubServiceOptions, RuleEvaluator } from "./hub-service";
export { startHub } from "./start-hub";
export type { RunningHub } from "./start-hub";
export { alertId, buildAlert } from "./alerts/build-alert";
export type { AlertingRule } from "./alerts/build-alert";
export { SigmaRuleEvaluator } from "./rules/rule-evaluator";
export { compileRule, loadRuleset, Ruleset } from "./sigma";
export type { CompiledRule } from "./sigma";
export { ElasticsearchSink } from "./sinks/elasticsearch-sink";
