import { AGENT_ID_PATTERN } from "@vigil/common";

// Who a config document or a task is for, written as one string so it reads
// the same in the API, the CLI and the KV bucket:
//   "fleet"                  every agent (a config document's fleet default is "default")
//   "group:<name>"           agents whose config lists the group (Hello.groups)
//   "label:<k>=<v>[,<k>=<v>]" agents carrying every one of these labels
//   "agent:<id>"             one agent (tasks only)

export type AgentTarget =
  | { kind: "fleet" }
  | { kind: "group"; group: string }
  | { kind: "label"; labels: Record<string, string> }
  | { kind: "agent"; agentId: string };

export type AgentTargetKind = AgentTarget["kind"];

/** What a target is matched against: the agent's id and what its Hello said. */
export interface TargetableAgent {
  agentId: string;
  labels: Readonly<Record<string, string>>;
  groups: readonly string[];
}

const GROUP = /^[A-Za-z0-9_.-]{1,64}$/;
const LABEL_KEY = /^[A-Za-z0-9_./-]{1,128}$/;
const MAX_LABEL_VALUE = 256;
const MAX_SELECTOR_LABELS = 8;

/** Why a target string is not one of `allowed`, or the parsed target. */
export function parseAgentTarget(
  text: unknown,
  allowed: readonly AgentTargetKind[],
): { target: AgentTarget } | { problem: string } {
  const forms = allowed.map((kind) => FORMS[kind]).join(", ");
  if (typeof text !== "string" || text.length === 0 || text.length > 2048) {
    return { problem: `must be a string, one of ${forms}` };
  }
  const target = parse(text);
  if ("problem" in target) return target;
  if (!allowed.includes(target.target.kind)) {
    return { problem: `${JSON.stringify(text.slice(0, 80))} is not allowed here; use ${forms}` };
  }
  return target;
}

const FORMS: Record<AgentTargetKind, string> = {
  fleet: '"fleet"',
  group: '"group:<name>"',
  label: '"label:<key>=<value>[,<key>=<value>]"',
  agent: '"agent:<agent id>"',
};

function parse(text: string): { target: AgentTarget } | { problem: string } {
  if (text === "fleet") return { target: { kind: "fleet" } };
  const colon = text.indexOf(":");
  const kind = colon < 0 ? text : text.slice(0, colon);
  const rest = colon < 0 ? "" : text.slice(colon + 1);
  switch (kind) {
    case "group":
      return GROUP.test(rest)
        ? { target: { kind: "group", group: rest } }
        : { problem: "group: the name must be 1-64 characters of A-Z a-z 0-9 _ . -" };
    case "agent":
      return AGENT_ID_PATTERN.test(rest)
        ? { target: { kind: "agent", agentId: rest } }
        : { problem: `agent: the id must match ${AGENT_ID_PATTERN}` };
    case "label":
      return parseLabels(rest);
    default:
      return {
        problem: `${JSON.stringify(text.slice(0, 80))} is not a target; one of "fleet", "group:<name>", "label:<key>=<value>", "agent:<id>"`,
      };
  }
}

function parseLabels(text: string): { target: AgentTarget } | { problem: string } {
  const labels: Record<string, string> = {};
  const pairs = text.split(",");
  if (pairs.length > MAX_SELECTOR_LABELS) {
    return { problem: `label: at most ${MAX_SELECTOR_LABELS} key=value pairs` };
  }
  for (const pair of pairs) {
    const equals = pair.indexOf("=");
    const key = equals < 0 ? pair : pair.slice(0, equals);
    const value = equals < 0 ? undefined : pair.slice(equals + 1);
    if (
      !LABEL_KEY.test(key) ||
      value === undefined ||
      value.length > MAX_LABEL_VALUE ||
      Object.hasOwn(labels, key)
    ) {
      return {
        problem: `label: ${JSON.stringify(pair.slice(0, 80))} must be <key>=<value> (key of A-Z a-z 0-9 _ . / -, value up to ${MAX_LABEL_VALUE} characters, each key once)`,
      };
    }
    labels[key] = value;
  }
  return { target: { kind: "label", labels } };
}

/** The canonical string of a target (label keys sorted), as stored and shown. */
export function formatAgentTarget(target: AgentTarget): string {
  switch (target.kind) {
    case "fleet":
      return "fleet";
    case "group":
      return `group:${target.group}`;
    case "agent":
      return `agent:${target.agentId}`;
    case "label":
      return `label:${Object.keys(target.labels)
        .sort()
        .map((key) => `${key}=${target.labels[key]}`)
        .join(",")}`;
    default: {
      const unreachable: never = target;
      return unreachable;
    }
  }
}

export function targetMatches(target: AgentTarget, agent: TargetableAgent): boolean {
  switch (target.kind) {
    case "fleet":
      return true;
    case "group":
      return agent.groups.includes(target.group);
    case "agent":
      return agent.agentId === target.agentId;
    case "label":
      return Object.entries(target.labels).every(
        ([key, value]) => Object.hasOwn(agent.labels, key) && agent.labels[key] === value,
      );
    default: {
      const unreachable: never = target;
      return unreachable;
    }
  }
}
