// Public face of @vigil/hub.

export type { AdmitResult, AlertCountUpdate, AlertDedupOptions, DedupPolicy } from "./alerts/alert-dedup";
export {
  ALERT_DEDUP_BUCKET,
  AlertDeduplicator,
  alertDedupBucket,
  DEFAULT_DEDUP_FIELDS,
  MAX_GROUPING_WINDOW_MS,
} from "./alerts/alert-dedup";
export type { AlertingRule, CorrelationTrigger } from "./alerts/build-alert";
export { alertId, buildAlert, buildCorrelationAlert, MAX_CORRELATION_EVENTS } from "./alerts/build-alert";
export type { ElasticsearchAlertReaderConfig } from "./alerts/elasticsearch-alert-reader";
export { ALERT_TOTAL_COUNT_BOUND, ElasticsearchAlertReader } from "./alerts/elasticsearch-alert-reader";
export type { HubConfig } from "./config";
export { DEFAULT_RULES_DIR, hubConfigSchema, loadHubConfig } from "./config";
export type { CompiledRuleSources, RuleSource } from "./correlation/compile-rule-sources";
export { compileRuleSources } from "./correlation/compile-rule-sources";
export { CORRELATION_BUCKET } from "./correlation/correlation-bucket";
export type { CorrelationCounters, CorrelationEngineOptions } from "./correlation/correlation-engine";
export { CorrelationEngine } from "./correlation/correlation-engine";
export { loadRuleSources } from "./correlation/load-rule-sources";
export type { CorrelatedMatch, CorrelationRule, CorrelationType } from "./correlation/types";
export type { ElasticsearchEventQueriesConfig } from "./events/elasticsearch-event-queries";
export { ElasticsearchEventQueries } from "./events/elasticsearch-event-queries";
export { ElasticsearchEventSink, EVENTS_FAMILY } from "./events/elasticsearch-event-sink";
export type { EventsWriterConfig } from "./events/events-config";
export {
  EVENTS_DATA_STREAM,
  EVENTS_INDEX_TEMPLATE_NAME,
  eventsIndexTemplate,
} from "./events/events-index-template";
export type { EventsWriterOptions } from "./events/events-writer";
export { EVENTS_DEAD_LETTER_SUBJECT, EVENTS_WRITER_DURABLE, EventsWriter } from "./events/events-writer";
export type { RunningEventsWriter } from "./events/start-events-writer";
export { startEventsWriter } from "./events/start-events-writer";
export type { HubConsumerSettings, HubServiceOptions, RuleEvaluator } from "./hub-service";
export { DEAD_LETTER_SUBJECT, HubService } from "./hub-service";
export type { SlackMessage } from "./notify/slack-message";
export { slackMessage } from "./notify/slack-message";
export type { WebhookCounters, WebhookNotifierOptions, WebhookSettings } from "./notify/webhook-notifier";
export { WebhookNotifier } from "./notify/webhook-notifier";
export type { CellSource, StoreFingerprint } from "./reports/cell-source";
export type { ElasticsearchCellSourceConfig } from "./reports/elasticsearch-cell-source";
export {
  cellAlertsRequest,
  cellEventsRequest,
  ElasticsearchCellSource,
  sightingsBeforeRequest,
  sightingsInCellRequest,
} from "./reports/elasticsearch-cell-source";
export type { ElasticsearchReportStoreConfig } from "./reports/elasticsearch-report-store";
export {
  ElasticsearchReportStore,
  listRequest as reportListRequest,
} from "./reports/elasticsearch-report-store";
export { FileReportStore } from "./reports/file-report-store";
export type { HostCell } from "./reports/merge-reports";
export { cellReport, hostScope, mergeReports, reportId, trendOf } from "./reports/merge-reports";
export type { Period, ReportLevel } from "./reports/periods";
export {
  childPeriods,
  LEVEL_NAMES,
  parentPeriod,
  parseLevel,
  periodOf,
  periodStartingAt,
  previousPeriod,
  REPORT_LEVELS,
} from "./reports/periods";
export type { GenerateOptions, ReportGeneratorOptions } from "./reports/report-generator";
export { ReportGenerator } from "./reports/report-generator";
export { REPORT_LOCK_BUCKET, ReportLock, reportLockKey } from "./reports/report-lock";
export type { ReportSchedulerOptions, TickResult } from "./reports/report-scheduler";
export { ReportScheduler } from "./reports/report-scheduler";
export type { Analysis, ReportListQuery, ReportStore } from "./reports/report-store";
export { MAX_REPORT_LIST, SCOPE_PATTERN } from "./reports/report-store";
export type { ReportsConfig } from "./reports/reports-config";
export { reportsConfigSchema } from "./reports/reports-config";
export { REPORTS_INDEX, reportsIndexTemplate } from "./reports/reports-index-template";
export type { SqliteCellSourceOptions } from "./reports/sqlite-cell-source";
export { SqliteCellSource } from "./reports/sqlite-cell-source";
export type { RunningReports, StartReportsOptions } from "./reports/start-reports";
export { openServerReports, startReports } from "./reports/start-reports";
export type { Report, ReportLimits, ReportSummary } from "./reports/types";
export { DEFAULT_REPORT_LIMITS, FLEET_SCOPE } from "./reports/types";
export type { CaseExpectation, RuleTestCase, RuleTestFile } from "./rule-tests/rule-test-file";
export { parseRuleTestFile } from "./rule-tests/rule-test-file";
export type { CaseResult, RuleTestReport, RuleTestResult } from "./rule-tests/rule-test-runner";
export { RuleTestRunner } from "./rule-tests/rule-test-runner";
export { LiveRuleEvaluator } from "./rules/live-rule-evaluator";
export { SigmaRuleEvaluator } from "./rules/rule-evaluator";
export type {
  CurrentPointer,
  RulesetChange,
  RulesetRule,
  RulesetVersion,
  StoredRuleEntry,
  StoredRulesetDocument,
} from "./rules/ruleset-kv";
export {
  bodyKey,
  CURRENT_KEY,
  decodeJson,
  encodeJson,
  RULESETS_BUCKET,
  RuleBodyCache,
  readCurrentPointer,
  readRulesetVersion,
  readStoredDocument,
  sha256Hex,
  VERSION_KEYS,
  versionKey,
  versionOfKey,
} from "./rules/ruleset-kv";
export type { RulesetWatcherOptions } from "./rules/ruleset-watcher";
export { RulesetWatcher } from "./rules/ruleset-watcher";
export type { CompiledRule } from "./sigma";
export { compileRule, compileRules, listRuleFiles, loadRuleset, MAX_RULE_BYTES, Ruleset } from "./sigma";
export type { ElasticsearchAuth, ElasticsearchSinkConfig } from "./sinks/elasticsearch-config";
export { DEFAULT_ELASTICSEARCH_SINK_CONFIG, elasticsearchSinkConfig } from "./sinks/elasticsearch-config";
export type { ElasticsearchSinkCounters, ElasticsearchSinkOptions } from "./sinks/elasticsearch-sink";
export { ElasticsearchSink } from "./sinks/elasticsearch-sink";
export { ALERTS_DATA_STREAM, ALERTS_INDEX_TEMPLATE, alertsIndexTemplate } from "./sinks/index-template";
export type { RejectedAlert } from "./sinks/sink-write-error";
export { SinkWriteError } from "./sinks/sink-write-error";
export type { RunningHub } from "./start-hub";
export { startHub } from "./start-hub";
export type { TriageAnswer, TriageClientOptions } from "./triage/triage-client";
export { TRIAGE_PROMPT, TriageClient } from "./triage/triage-client";
export type { TriageConfig, TriageField } from "./triage/triage-config";
export {
  DEFAULT_TRIAGE_FIELDS,
  TRIAGE_FIELDS,
  triageApiKey,
  triageConfigSchema,
} from "./triage/triage-config";
export type { PayloadPolicy } from "./triage/triage-payload";
export { alertPayload, reportPayload } from "./triage/triage-payload";
export type { TriageServiceOptions } from "./triage/triage-service";
export { ALERT_TRIAGE_DURABLE, MAX_TRIAGE_QUEUE, TriageService } from "./triage/triage-service";
