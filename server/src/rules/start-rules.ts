import type { Bus, Logger } from "@vigil/common";
import { RULESETS_BUCKET } from "@vigil/hub";
import type { AuditTrail } from "../audit/types";
import { RuleService } from "./rule-service";
import { RulesetStore } from "./ruleset-store";
import { seedRuleset } from "./seed-ruleset";

/**
 * Opens the ruleset bucket, seeds version 1 from `seedDir` when it is empty
 * (every server does this at start; only the first one writes), and returns
 * the service behind the rules API.
 */
export async function startRules(
  bus: Bus,
  audit: AuditTrail,
  seedDir: string,
  logger: Logger,
): Promise<RuleService> {
  const rulesLogger = logger.child({ component: "rules" });
  const store = new RulesetStore({ kv: await bus.openKv(RULESETS_BUCKET), logger: rulesLogger });
  await seedRuleset(store, seedDir, rulesLogger);
  return new RuleService({ store, audit, logger: rulesLogger });
}
