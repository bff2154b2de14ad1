// Every operator change (rules, rulesets, agent config, tasks, tokens,
// enrolment, revocation) is recorded: who, what, when, before/after.

export interface AuditActor {
  /** API token id (never the secret), "config" for startup config, or "system". */
  id: string;
  /** Token name for people reading the trail. */
  name: string;
  role: string;
  /** Client address of the request, when there was one. */
  address?: string;
}

export interface AuditChange {
  actor: AuditActor;
  /** Dotted verb, e.g. "rule.create", "ruleset.rollback", "agent-config.update", "task.create", "token.revoke". */
  action: string;
  /** What was changed: "rule/<id>", "agent/<id>", "token/<id>", ... */
  target: string;
  /** JSON-serialisable state before and after (undefined when created/deleted). */
  before?: unknown;
  after?: unknown;
}

export interface AuditRecord extends AuditChange {
  id: string;
  /** ISO-8601 time the change was recorded. */
  time: string;
  serverId: string;
}

export interface AuditTrail {
  /** Durably records the change (resolves once stored); callers record after the change succeeded. */
  record(change: AuditChange): Promise<AuditRecord>;
}
