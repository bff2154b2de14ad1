// Public face of the Sigma engine; hub/src/index.ts re-exports from here.
export { attackFromTags } from "./attack";
export { compileRule, compileRules, MAX_RULE_BYTES } from "./compile-rule";
export { compileExtensions, parseWindow } from "./extensions";
export { CATEGORY_FIELDS, COMMON_FIELDS, resolveField, UNAVAILABLE_FIELDS } from "./field-mapping";
export { listRuleFiles, loadRuleset } from "./load-ruleset";
export { categoriesOf, isCategory } from "./logsource";
export { MAX_REGEX_INPUT, unsafeRegexReason } from "./regex-guard";
export { Ruleset } from "./ruleset";
export { KEYWORD_FIELDS } from "./selection";
export type {
  CompiledRule,
  EcsDocument,
  LoadResult,
  Logsource,
  LogsourceCategory,
  OutputTemplate,
  Predicate,
  RuleException,
  RuleLevel,
  RuleMetadata,
  RuleStatus,
  Suppression,
  Tactic,
  Technique,
} from "./types";
export { LOGSOURCE_CATEGORIES, RULE_LEVELS, RULE_STATUSES } from "./types";
