import { type AgentPolicy, agentPolicySchema } from "@vigil/common";
import { type AgentTarget, formatAgentTarget, parseAgentTarget } from "../control/agent-target";

// An agent config document: a partial agent policy (common/src/policy) for
// the fleet, a group or a label selector. The effective policy of an agent
// merges the documents that target it (effective-policy.ts).

/** The fleet default's name; the server's agentPolicy seeds it when the bucket has none. */
export const FLEET_DEFAULT_NAME = "default";
const NAME = /^[A-Za-z0-9_-]{1,64}$/;
const MAX_PRIORITY = 1_000_000;
const MAX_DESCRIPTION = 1000;

/** A config document as stored in the bucket (JSON). */
export interface ConfigDocument {
  name: string;
  /** "fleet", "group:<name>" or "label:<k>=<v>[,…]" (canonical form). */
  target: string;
  /** Among documents of one kind (group, label), higher wins; ties by name (later in code order wins). */
  priority: number;
  description: string;
  /** Only the keys the document sets (validated with the agent's schema). */
  policy: AgentPolicy;
  updatedAt: string;
  updatedBy: string;
}

/** A document with the KV revision it was read at. */
export interface StoredConfigDocument extends ConfigDocument {
  revision: number;
  parsedTarget: AgentTarget;
}

/** A bad document: the REST API answers 400 with `message` (it names the field). */
export class ConfigDocumentInvalid extends Error {}

export function checkDocumentName(name: string): void {
  if (!NAME.test(name)) {
    throw new ConfigDocumentInvalid(
      `name: ${JSON.stringify(name.slice(0, 80))} must be 1-64 characters of A-Z a-z 0-9 _ -`,
    );
  }
}

/**
 * Validates a PUT body ({ target, priority?, description?, policy }) for the
 * document `name`; every problem is named by its field (policy.driver.watchedPrefixes[0]: …).
 */
export function parseDocumentInput(name: string, body: unknown, updatedBy: string): ConfigDocument {
  checkDocumentName(name);
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new ConfigDocumentInvalid("body: must be an object { target, priority?, description?, policy }");
  }
  const input = body as Record<string, unknown>;
  const unknownKeys = Object.keys(input).filter(
    (key) => !["target", "priority", "description", "policy", "name"].includes(key),
  );
  if (unknownKeys.length > 0) {
    throw new ConfigDocumentInvalid(
      `${unknownKeys[0].slice(0, 64)}: unknown field (target, priority, description, policy)`,
    );
  }
  if (input.name !== undefined && input.name !== name) {
    throw new ConfigDocumentInvalid(
      `name: the body says ${JSON.stringify(String(input.name).slice(0, 64))} but the path says ${name}`,
    );
  }
  const targetText = input.target ?? (name === FLEET_DEFAULT_NAME ? "fleet" : undefined);
  const parsed = parseAgentTarget(targetText, ["fleet", "group", "label"]);
  if ("problem" in parsed) throw new ConfigDocumentInvalid(`target: ${parsed.problem}`);
  const isDefault = parsed.target.kind === "fleet";
  if (isDefault !== (name === FLEET_DEFAULT_NAME)) {
    throw new ConfigDocumentInvalid(
      `target: only the document named "${FLEET_DEFAULT_NAME}" targets the fleet, and it targets nothing else`,
    );
  }
  const priority = input.priority ?? 0;
  if (!Number.isInteger(priority) || Math.abs(priority as number) > MAX_PRIORITY) {
    throw new ConfigDocumentInvalid(`priority: must be an integer from -${MAX_PRIORITY} to ${MAX_PRIORITY}`);
  }
  const description = input.description ?? "";
  if (typeof description !== "string" || description.length > MAX_DESCRIPTION) {
    throw new ConfigDocumentInvalid(`description: must be a string of at most ${MAX_DESCRIPTION} characters`);
  }
  return {
    name,
    target: formatAgentTarget(parsed.target),
    priority: priority as number,
    description,
    policy: parsePolicy(input.policy ?? {}, "policy"),
    updatedAt: new Date().toISOString(),
    updatedBy,
  };
}

/** Validates a (partial) agent policy with the agent's schema; errors name `where`.<key>. */
export function parsePolicy(policy: unknown, where: string): AgentPolicy {
  const parsed = agentPolicySchema.safeParse(policy);
  if (!parsed.success) {
    const problems = parsed.error.issues.map(
      (issue) => `${[where, ...issue.path].join(".").replace(/\.(\d+)(?=\.|$)/g, "[$1]")}: ${issue.message}`,
    );
    throw new ConfigDocumentInvalid(problems.join("; "));
  }
  return parsed.data;
}

/** Reads a stored document back; undefined (and the caller logs it) when it is not one. */
export function decodeStoredDocument(value: Uint8Array, revision: number): StoredConfigDocument | undefined {
  try {
    const document = JSON.parse(Buffer.from(value).toString("utf8")) as ConfigDocument;
    const parsedTarget = parseAgentTarget(document.target, ["fleet", "group", "label"]);
    if ("problem" in parsedTarget || !NAME.test(document.name)) return undefined;
    return {
      ...document,
      policy: agentPolicySchema.parse(document.policy),
      revision,
      parsedTarget: parsedTarget.target,
    };
  } catch {
    return undefined;
  }
}

export function encodeDocument(document: ConfigDocument): Uint8Array {
  return Buffer.from(JSON.stringify(document), "utf8");
}

/** The document without its parsed target, as the API shows it. */
export function documentView(document: StoredConfigDocument) {
  const { parsedTarget: _parsed, ...view } = document;
  return view;
}
