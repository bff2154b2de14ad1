import type { EcsDocument, Logger } from "@vigil/common";
import { MAX_RULE_BYTES } from "@vigil/hub";
import type {
  FastifyInstance,
  FastifyReply,
  RawReplyDefaultExpression,
  RawRequestDefaultExpression,
  RawServerDefault,
} from "fastify";
import { RuleChangeRefused } from "../rules/rule-change-refused";
import type { RuleService } from "../rules/rule-service";
import "./api-roles";

type App = FastifyInstance<RawServerDefault, RawRequestDefaultExpression, RawReplyDefaultExpression, Logger>;

export interface RuleRoutesOptions {
  rules: RuleService;
}

/** Sample events one dry run may carry. */
export const MAX_DRY_RUN_EVENTS = 1000;
/** A rule body as JSON (escaping can grow a 256 KiB rule) plus the request's other fields. */
const RULE_BODY_LIMIT = 4 * MAX_RULE_BYTES;
const DRY_RUN_BODY_LIMIT = 4 * 1024 * 1024;
const MAX_VERSIONS_PER_PAGE = 1000;

const ruleIdParams = {
  type: "object",
  required: ["id"],
  properties: { id: { type: "string", minLength: 1, maxLength: 128 } },
} as const;

const versionParams = {
  type: "object",
  required: ["version"],
  properties: { version: { type: "integer", minimum: 1 } },
} as const;

/** How a rule text maps onto the API's one-rule-per-id model (shown in the OpenAPI document). */
const RULE_TEXT =
  "One Sigma rule (a base rule or a correlation), or a Sigma correlation file: one correlation and the base rules it uses in one multi-document YAML text, stored as one rule under the correlation's id (its base rules are listed in `contains` and change with it). A text with several documents and no correlation, two correlations, or a base rule the correlation does not use is refused: send other rules one per request. The whole resulting ruleset is compiled as hubs compile it (base rules and correlations together) before anything is stored; a 400 lists each problem with the rule id, line and column.";

const ruleBody = {
  type: "object",
  required: ["yaml"],
  additionalProperties: false,
  properties: {
    yaml: { type: "string", minLength: 1, maxLength: MAX_RULE_BYTES, description: RULE_TEXT },
    enabled: { type: "boolean" },
  },
} as const;

const dryRunBody = {
  type: "object",
  required: ["yaml", "events"],
  additionalProperties: false,
  properties: {
    yaml: { type: "string", minLength: 1, maxLength: MAX_RULE_BYTES, description: RULE_TEXT },
    events: {
      type: "array",
      maxItems: MAX_DRY_RUN_EVENTS,
      items: { type: "object" },
      description:
        "ECS events in order; a correlation counts them by their @timestamp through the correlation engine, with windows that exist for this request only",
    },
  },
} as const;

const versionsQuery = {
  type: "object",
  additionalProperties: false,
  properties: {
    limit: { type: "integer", minimum: 1, maximum: MAX_VERSIONS_PER_PAGE, default: 100 },
    before: { type: "integer", minimum: 1 },
  },
} as const;

const ERROR_NAMES = {
  400: "rule_invalid",
  404: "not_found",
  409: "conflict",
  503: "unavailable",
} as const;

/** A refused change answers with its status and, for a bad rule, the problems by line. */
function refused(reply: FastifyReply, error: unknown): FastifyReply {
  if (!(error instanceof RuleChangeRefused)) throw error;
  return reply.code(error.status).send({
    error: ERROR_NAMES[error.status],
    message: error.message,
    ...(error.problems ? { problems: error.problems } : {}),
  });
}

/**
 * Rules and ruleset versions (README "Rules API"). Reads need role viewer,
 * changes operator. Every change is compiled with the hub's compiler first,
 * stored as a new ruleset version that hubs pick up live, and audited.
 */
export function registerRuleRoutes(app: App, options: RuleRoutesOptions): void {
  const { rules } = options;
  const viewer = { role: "viewer" } as const;
  const operator = { role: "operator" } as const;

  app.get("/api/v1/rules", { config: viewer, schema: { tags: ["rules"] } }, async (_request, reply) => {
    try {
      const { version, rules: list } = await rules.list();
      return { version, count: list.length, rules: list };
    } catch (error) {
      return refused(reply, error);
    }
  });

  app.get<{ Params: { id: string } }>(
    "/api/v1/rules/:id",
    { config: viewer, schema: { tags: ["rules"], params: ruleIdParams } },
    async (request, reply) => {
      try {
        return await rules.get(request.params.id);
      } catch (error) {
        return refused(reply, error);
      }
    },
  );

  app.post<{ Body: { yaml: string; enabled?: boolean } }>(
    "/api/v1/rules",
    {
      config: operator,
      bodyLimit: RULE_BODY_LIMIT,
      schema: {
        tags: ["rules"],
        description: `Adds a rule. ${RULE_TEXT}`,
        body: ruleBody,
      },
    },
    async (request, reply) => {
      try {
        const { yaml, enabled } = request.body;
        return reply.code(201).send(await rules.create(yaml, enabled ?? true, request.actor));
      } catch (error) {
        return refused(reply, error);
      }
    },
  );

  app.put<{ Params: { id: string }; Body: { yaml: string; enabled?: boolean } }>(
    "/api/v1/rules/:id",
    {
      config: operator,
      bodyLimit: RULE_BODY_LIMIT,
      schema: {
        tags: ["rules"],
        description:
          "Replaces a rule's text (its id must stay the same); enabled stays as it was unless given.",
        params: ruleIdParams,
        body: ruleBody,
      },
    },
    async (request, reply) => {
      try {
        const { yaml, enabled } = request.body;
        return await rules.update(request.params.id, yaml, enabled, request.actor);
      } catch (error) {
        return refused(reply, error);
      }
    },
  );

  for (const [verb, enabled] of [
    ["enable", true],
    ["disable", false],
  ] as const) {
    app.post<{ Params: { id: string } }>(
      `/api/v1/rules/:id/${verb}`,
      {
        config: operator,
        schema: {
          tags: ["rules"],
          description:
            verb === "disable"
              ? "Disables a rule. Refused (400, naming the correlation) while an enabled correlation uses it: a correlation would otherwise stop silently; disable or change the correlation first."
              : "Enables a rule. A correlation is enabled only if the rules it uses are.",
          params: ruleIdParams,
        },
      },
      async (request, reply) => {
        try {
          return await rules.setEnabled(request.params.id, enabled, request.actor);
        } catch (error) {
          return refused(reply, error);
        }
      },
    );
  }

  app.delete<{ Params: { id: string } }>(
    "/api/v1/rules/:id",
    {
      config: operator,
      schema: {
        tags: ["rules"],
        description:
          "Deletes a rule. Refused (400, naming the correlation) while any correlation, enabled or not, uses it: delete or change the correlation first, so no stored rule is left unable to run.",
        params: ruleIdParams,
      },
    },
    async (request, reply) => {
      try {
        return await rules.delete(request.params.id, request.actor);
      } catch (error) {
        return refused(reply, error);
      }
    },
  );

  // Stores nothing, but runs a caller's regular expressions: an operator's tool.
  app.post<{ Body: { yaml: string; events: EcsDocument[] } }>(
    "/api/v1/rules/dry-run",
    {
      config: operator,
      bodyLimit: DRY_RUN_BODY_LIMIT,
      schema: {
        tags: ["rules"],
        description:
          "Validates a rule as it would be stored (replacing the stored rule with its id) and runs it over sample events; stores nothing. A base rule: which events it matches. A correlation: the events through the correlation engine with the current ruleset's rules it uses; matched lists the events whose arrival fired it, fires its alert messages.",
        body: dryRunBody,
      },
    },
    async (request, reply) => {
      try {
        return await rules.dryRun(request.body.yaml, request.body.events);
      } catch (error) {
        return refused(reply, error);
      }
    },
  );

  app.get<{ Querystring: { limit: number; before?: number } }>(
    "/api/v1/rulesets",
    { config: viewer, schema: { tags: ["rulesets"], querystring: versionsQuery } },
    async (request, reply) => {
      try {
        const current = await rules.current();
        const versions = await rules.versions(request.query.limit, request.query.before);
        return { current: current.version, count: versions.length, versions };
      } catch (error) {
        return refused(reply, error);
      }
    },
  );

  app.get(
    "/api/v1/rulesets/current",
    { config: viewer, schema: { tags: ["rulesets"] } },
    async (_request, reply) => {
      try {
        return await rules.current();
      } catch (error) {
        return refused(reply, error);
      }
    },
  );

  app.get<{ Params: { version: number } }>(
    "/api/v1/rulesets/:version",
    { config: viewer, schema: { tags: ["rulesets"], params: versionParams } },
    async (request, reply) => {
      try {
        return await rules.version(request.params.version);
      } catch (error) {
        return refused(reply, error);
      }
    },
  );

  app.post<{ Params: { version: number } }>(
    "/api/v1/rulesets/:version/rollback",
    { config: operator, schema: { tags: ["rulesets"], params: versionParams } },
    async (request, reply) => {
      try {
        return reply.code(201).send(await rules.rollback(request.params.version, request.actor));
      } catch (error) {
        return refused(reply, error);
      }
    },
  );
}
