// Process trees are built the same way over either store: ancestry is walked
// upwards through each process's own documents (process.parent), falling back
// to the ancestry a child's document carries when an ancestor has no events
// of its own (it started before the agent or fell out of retention);
// descendants are found breadth-first by parent entity id. The stores only
// answer the small lookups below.

import type { EcsDocument } from "../alerts/types";
import { ErrorCodes, VigilError } from "../errors";
import { objectAt, stringAt } from "./event-columns";
import {
  MAX_EVENTS_PER_PROCESS,
  MAX_TREE_DEPTH,
  MAX_TREE_PROCESSES,
  type ProcessNode,
  type ProcessRelation,
  type ProcessTree,
  type ProcessTreeQuery,
} from "./types";

export const DEFAULT_EVENTS_PER_PROCESS = 100;
export const DEFAULT_TREE_PROCESSES = 200;

export interface TimeWindow {
  fromMs?: number;
  toMs?: number;
}

export interface ChildLink {
  entityId: string;
  parentEntityId: string;
}

/** What a store answers for the tree builder; every call is bounded. */
export interface ProcessEventLookup {
  /** The process's events in the window, oldest first, at most `limit`. */
  processEvents(hostId: string, entityId: string, window: TimeWindow, limit: number): Promise<EcsDocument[]>;
  /** The document best describing the process (its exec, else its latest event), ignoring any window. */
  describingEvent(hostId: string, entityId: string): Promise<EcsDocument | undefined>;
  /** Distinct children of these parents with events in the window, at most `limit`. */
  children(
    hostId: string,
    parentIds: readonly string[],
    window: TimeWindow,
    limit: number,
  ): Promise<ChildLink[]>;
  /** The entity id of the process with this pid seen last at or before `atMs` (else first after). */
  entityOfPid(hostId: string, pid: number, atMs: number | undefined): Promise<string | undefined>;
}

export async function buildProcessTree(
  lookup: ProcessEventLookup,
  query: ProcessTreeQuery,
): Promise<ProcessTree> {
  const checked = checkTreeQuery(query);
  const { hostId, window, eventsPerProcess, maxProcesses } = checked;
  let entityId = query.entityId;
  if (entityId === undefined) {
    entityId = await lookup.entityOfPid(hostId, query.pid as number, query.atMs);
    if (entityId === undefined) {
      throw notFound(`no process with pid ${query.pid} on host ${hostId}`);
    }
  }
  const self = await lookup.describingEvent(hostId, entityId);
  if (self === undefined) throw notFound(`no events of process ${entityId} on host ${hostId}`);

  const nodes: ProcessNode[] = [];
  const visited = new Set<string>([entityId]);

  // Ancestry, nearest first while walking; reversed below so the root comes first.
  const ancestors: ProcessNode[] = [];
  let parent = objectAt(objectAt(self, "process"), "parent");
  for (let depth = -1; parent !== undefined && depth >= -MAX_TREE_DEPTH; depth--) {
    const parentId = stringAt(parent, "entity_id");
    if (parentId === null || visited.has(parentId)) break;
    visited.add(parentId);
    const described = await lookup.describingEvent(hostId, parentId);
    const process = described !== undefined ? objectAt(described, "process") : parent;
    ancestors.push(describe(parentId, "ancestor", depth, process, described));
    // A seen ancestor's own document knows its parent; an unseen one only what the child's document nests.
    parent = objectAt(process, "parent");
  }
  nodes.push(...ancestors.reverse());
  nodes.push(describe(entityId, "self", 0, objectAt(self, "process"), self));

  let truncated = false;
  let frontier = [entityId];
  for (let depth = 1; frontier.length > 0 && !truncated; depth++) {
    const room = maxProcesses - nodes.length;
    if (room <= 0) {
      truncated = true;
      break;
    }
    const links = await lookup.children(hostId, frontier, window, room + 1);
    const next: string[] = [];
    for (const link of links) {
      if (visited.has(link.entityId)) continue;
      if (next.length >= room) {
        truncated = true;
        break;
      }
      visited.add(link.entityId);
      next.push(link.entityId);
      const described = await lookup.describingEvent(hostId, link.entityId);
      const node = describe(link.entityId, "descendant", depth, objectAt(described, "process"), described);
      node.parentEntityId = link.parentEntityId;
      nodes.push(node);
    }
    frontier = next;
  }

  if (eventsPerProcess > 0) {
    for (const node of nodes) {
      if (!node.seen) continue;
      const events = await lookup.processEvents(hostId, node.entityId, window, eventsPerProcess + 1);
      node.eventsTruncated = events.length > eventsPerProcess;
      node.events = events.slice(0, eventsPerProcess);
    }
  }
  return { hostId, entityId, processes: nodes, truncated };
}

interface CheckedTreeQuery {
  hostId: string;
  window: TimeWindow;
  eventsPerProcess: number;
  maxProcesses: number;
}

/** Names the first bad parameter of a tree query (VIGIL_ERR_EVENT_QUERY). */
export function checkTreeQuery(query: ProcessTreeQuery): CheckedTreeQuery {
  if (typeof query.hostId !== "string" || query.hostId === "") throw badQuery("host: required");
  if (query.entityId === undefined && query.pid === undefined) {
    throw badQuery("entityId or pid: one of them names the process");
  }
  if (query.entityId !== undefined && (typeof query.entityId !== "string" || query.entityId === "")) {
    throw badQuery("entityId: must be a non-empty string");
  }
  if (query.pid !== undefined && (!Number.isSafeInteger(query.pid) || query.pid <= 0)) {
    throw badQuery("pid: must be a positive integer");
  }
  const eventsPerProcess = query.eventsPerProcess ?? DEFAULT_EVENTS_PER_PROCESS;
  if (
    !Number.isSafeInteger(eventsPerProcess) ||
    eventsPerProcess < 0 ||
    eventsPerProcess > MAX_EVENTS_PER_PROCESS
  ) {
    throw badQuery(`eventsPerProcess: must be an integer from 0 to ${MAX_EVENTS_PER_PROCESS}`);
  }
  const maxProcesses = query.maxProcesses ?? DEFAULT_TREE_PROCESSES;
  if (!Number.isSafeInteger(maxProcesses) || maxProcesses < 1 || maxProcesses > MAX_TREE_PROCESSES) {
    throw badQuery(`maxProcesses: must be an integer from 1 to ${MAX_TREE_PROCESSES}`);
  }
  for (const key of ["atMs", "fromMs", "toMs"] as const) {
    const value = query[key];
    if (value !== undefined && !Number.isSafeInteger(value)) throw badQuery(`${key}: must be a time in ms`);
  }
  if (query.fromMs !== undefined && query.toMs !== undefined && query.fromMs >= query.toMs) {
    throw badQuery("from: must be before to");
  }
  return {
    hostId: query.hostId,
    window: { fromMs: query.fromMs, toMs: query.toMs },
    eventsPerProcess,
    maxProcesses,
  };
}

function describe(
  entityId: string,
  relation: ProcessRelation,
  depth: number,
  process: Record<string, unknown> | undefined,
  document: EcsDocument | undefined,
): ProcessNode {
  const node: ProcessNode = {
    entityId,
    relation,
    depth,
    seen: document !== undefined,
    events: [],
    eventsTruncated: false,
  };
  const parentId = stringAt(objectAt(process, "parent"), "entity_id");
  if (parentId !== null) node.parentEntityId = parentId;
  const pid = process?.pid;
  if (typeof pid === "number") node.pid = pid;
  const name = stringAt(process, "name");
  if (name !== null) node.name = name;
  const executable = stringAt(process, "executable");
  if (executable !== null) node.executable = executable;
  const commandLine = stringAt(process, "command_line");
  if (commandLine !== null) node.commandLine = commandLine;
  // The event's user is the process's (ECS puts it at the top level); a nested ancestor carries none.
  const userName =
    stringAt(objectAt(process, "user"), "name") ?? stringAt(objectAt(document, "user"), "name");
  if (userName !== null) node.userName = userName;
  const start = stringAt(process, "start");
  if (start !== null) node.start = start;
  return node;
}

function badQuery(message: string): VigilError {
  return new VigilError(ErrorCodes.EVENT_QUERY, message);
}

/** A tree asked for a process the store has no events of; the API answers 404. */
export class ProcessNotFoundError extends VigilError {
  constructor(message: string) {
    super(ErrorCodes.EVENT_QUERY, message);
    this.name = "ProcessNotFoundError";
  }
}

function notFound(message: string): ProcessNotFoundError {
  return new ProcessNotFoundError(message);
}
