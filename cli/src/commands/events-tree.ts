import type { ProcessNode, ProcessTree } from "@vigil/common";
import type { ApiOptions } from "./api-client";
import { investigationRequest } from "./events-api";
import { eventAction, eventDetail, eventTime } from "./events-format";

// `vigil events tree`: a process's ancestry, the process and its descendants
// (GET /api/v1/process-tree), printed as an indented tree, each process with
// its events under it. The alert context (events-context.ts) prints the same.

export interface TreeBounds {
  eventsPerProcess?: number;
  maxProcesses?: number;
}

export interface EventsTreeOptions extends ApiOptions, TreeBounds {
  hostId: string;
  entityId?: string;
  pid?: number;
  /** ISO time the pid is resolved at. */
  at?: string;
  /** Events of each process within [since, until). */
  since?: string;
  until?: string;
}

const INDENT = "  ";

function processLine(node: ProcessNode): string {
  const label = node.commandLine ?? node.executable ?? node.name ?? "?";
  const parts = [`${node.pid ?? "?"} ${label}`];
  if (node.userName !== undefined) parts.push(`user ${node.userName}`);
  parts.push(`[${node.entityId}]`);
  if (node.relation === "self") parts.push("<== this process");
  if (!node.seen) parts.push("(no events of its own stored)");
  return parts.join("  ");
}

/**
 * The tree as lines: ancestors root first, each a level deeper than the one
 * before, then the process, then its descendants under their parents; a
 * process's events one level in, after a "·".
 */
export function renderProcessTree(tree: ProcessTree): string {
  const lines: string[] = [];
  const children = new Map<string, ProcessNode[]>();
  for (const node of tree.processes) {
    if (node.relation !== "descendant" || node.parentEntityId === undefined) continue;
    const siblings = children.get(node.parentEntityId) ?? [];
    siblings.push(node);
    children.set(node.parentEntityId, siblings);
  }
  const printed = new Set<string>();
  const print = (node: ProcessNode, level: number): void => {
    if (printed.has(node.entityId)) return;
    printed.add(node.entityId);
    const pad = INDENT.repeat(level);
    lines.push(`${pad}${processLine(node)}`);
    for (const event of node.events) {
      lines.push(
        `${pad}${INDENT}· ${eventTime(event["@timestamp"])}  ${eventAction(event)}  ${eventDetail(event)}`,
      );
    }
    if (node.eventsTruncated) lines.push(`${pad}${INDENT}· … more events (--events-per-process)`);
    for (const child of children.get(node.entityId) ?? []) print(child, level + 1);
  };
  const ancestors = tree.processes.filter((node) => node.relation === "ancestor");
  ancestors.forEach((node, index) => {
    print(node, index);
  });
  const self = tree.processes.find((node) => node.relation === "self");
  if (self !== undefined) print(self, ancestors.length);
  // A descendant whose parent is not in the answer still shows, at its generation.
  for (const node of tree.processes) print(node, ancestors.length + Math.max(node.depth, 0));
  if (tree.truncated) lines.push(`… more descendants (--max-processes)`);
  return `${lines.map((line) => line.trimEnd()).join("\n")}\n`;
}

export function treeBoundsQuery(bounds: TreeBounds): URLSearchParams {
  const query = new URLSearchParams();
  if (bounds.eventsPerProcess !== undefined) query.set("eventsPerProcess", String(bounds.eventsPerProcess));
  if (bounds.maxProcesses !== undefined) query.set("maxProcesses", String(bounds.maxProcesses));
  return query;
}

/** `vigil events tree --host-id <id> (--entity-id <e> | --pid <p> [--at <time>])`. */
export async function showProcessTree(options: EventsTreeOptions): Promise<void> {
  if (options.entityId !== undefined && options.pid !== undefined) {
    throw new Error("--entity-id and --pid: give one of them (the entity id, or a pid with --at)");
  }
  if (options.entityId === undefined && options.pid === undefined) {
    throw new Error("--entity-id or --pid: one of them names the process (a pid with --at <time>)");
  }
  if (options.at !== undefined && options.pid === undefined) {
    throw new Error("--at: only with --pid (the moment the pid is resolved at)");
  }
  const query = treeBoundsQuery(options);
  query.set("hostId", options.hostId);
  if (options.entityId !== undefined) query.set("entityId", options.entityId);
  if (options.pid !== undefined) query.set("pid", String(options.pid));
  if (options.at !== undefined) query.set("at", options.at);
  if (options.since !== undefined) query.set("from", options.since);
  if (options.until !== undefined) query.set("to", options.until);
  const tree = await investigationRequest<ProcessTree>(options, `/api/v1/process-tree?${query}`);
  if (options.json) {
    process.stdout.write(`${JSON.stringify(tree)}\n`);
    return;
  }
  process.stdout.write(renderProcessTree(tree));
}
