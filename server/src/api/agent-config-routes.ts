import type { FastifyReply } from "fastify";
import type { AuditTrail } from "../audit/types";
import type { TargetableAgent } from "../control/agent-target";
import { type AgentConfigStore, ConfigChangeRefused } from "../policy/agent-config-store";
import { ConfigDocumentInvalid, documentView, parseDocumentInput } from "../policy/config-document";
import type { ApiApp } from "./api-app";

export interface AgentConfigRoutesOptions {
  store: AgentConfigStore;
  /** The labels and groups of an agent (the fleet registry), undefined when unknown. */
  lookupAgent: (agentId: string) => Promise<TargetableAgent | undefined> | TargetableAgent | undefined;
  audit: AuditTrail;
}

/** A document is a partial agent policy: its driver lists are bounded by the driver's 16 KiB write. */
const DOCUMENT_BODY_LIMIT = 256 * 1024;

const nameParams = {
  type: "object",
  required: ["name"],
  properties: { name: { type: "string", minLength: 1, maxLength: 64 } },
} as const;

const agentParams = {
  type: "object",
  required: ["id"],
  properties: { id: { type: "string", minLength: 1, maxLength: 64 } },
} as const;

const documentBody = {
  type: "object",
  properties: {
    target: { type: "string", maxLength: 2048 },
    priority: { type: "integer" },
    description: { type: "string", maxLength: 1000 },
    policy: { type: "object" },
  },
} as const;

function refused(reply: FastifyReply, error: unknown): FastifyReply {
  if (error instanceof ConfigDocumentInvalid) {
    return reply.code(400).send({ error: "bad_request", message: error.message });
  }
  if (error instanceof ConfigChangeRefused) {
    return reply
      .code(error.status)
      .send({ error: error.status === 404 ? "not_found" : "conflict", message: error.message });
  }
  throw error;
}

/**
 * Agent config documents (README "Agent config"): the fleet default, group
 * and label-selector documents, merged per agent default < group < label
 * (then priority, then name). Reads need role viewer, changes operator; every
 * change is validated with the agent's schema first and audited.
 */
export function registerAgentConfigRoutes(app: ApiApp, options: AgentConfigRoutesOptions): void {
  const { store, audit } = options;
  const tags = ["agent-config"];

  app.get("/api/v1/agent-config", { config: { role: "viewer" }, schema: { tags } }, async () => {
    const documents = store.list().map(documentView);
    return { count: documents.length, documents };
  });

  app.get<{ Params: { name: string } }>(
    "/api/v1/agent-config/:name",
    { config: { role: "viewer" }, schema: { tags, params: nameParams } },
    async (request, reply) => {
      const document = store.get(request.params.name);
      if (!document) {
        return reply
          .code(404)
          .send({ error: "not_found", message: `no agent config document ${request.params.name}` });
      }
      return documentView(document);
    },
  );

  app.put<{ Params: { name: string }; Body: unknown }>(
    "/api/v1/agent-config/:name",
    {
      config: { role: "operator" },
      bodyLimit: DOCUMENT_BODY_LIMIT,
      schema: { tags, params: nameParams, body: documentBody },
    },
    async (request, reply) => {
      try {
        const input = parseDocumentInput(request.params.name, request.body, request.actor.name);
        const { before, after } = await store.put(input);
        await audit.record({
          actor: request.actor,
          action: "agent-config.update",
          target: `agent-config/${after.name}`,
          before: before ? documentView(before) : undefined,
          after: documentView(after),
        });
        return reply.code(before ? 200 : 201).send(documentView(after));
      } catch (error) {
        return refused(reply, error);
      }
    },
  );

  app.delete<{ Params: { name: string } }>(
    "/api/v1/agent-config/:name",
    { config: { role: "operator" }, schema: { tags, params: nameParams } },
    async (request, reply) => {
      try {
        const before = await store.delete(request.params.name);
        await audit.record({
          actor: request.actor,
          action: "agent-config.delete",
          target: `agent-config/${before.name}`,
          before: documentView(before),
        });
        return reply.code(204).send();
      } catch (error) {
        return refused(reply, error);
      }
    },
  );

  app.get<{ Params: { id: string } }>(
    "/api/v1/agents/:id/effective-config",
    { config: { role: "viewer" }, schema: { tags, params: agentParams } },
    async (request, reply) => {
      const agent = await options.lookupAgent(request.params.id);
      if (!agent) {
        return reply
          .code(404)
          .send({ error: "not_found", message: `no agent ${request.params.id} in the fleet registry` });
      }
      return {
        agentId: agent.agentId,
        labels: agent.labels,
        groups: agent.groups,
        ...store.effectiveFor(agent),
      };
    },
  );

  // The fleet default as GET /api/v1/agent-policy answered before config documents (kept for older CLIs).
  app.get("/api/v1/agent-policy", { config: { role: "viewer" }, schema: { tags } }, async () => {
    const { version, policy, settings } = store.fleetDefault();
    return { version, policy, settings };
  });
}
