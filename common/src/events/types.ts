// The event store: every normalized event kept for investigation (issue 8).
// The events writer stores ECS documents (toEcsDocument) in SQLite (embedded)
// or the Elasticsearch data stream vigil-events (distributed); the API reads
// them back through EventQueries, the same interface for both.

import type { EcsDocument } from "../alerts/types";

/** Where the events writer durably stores event documents. */
export interface EventSink {
  readonly name: string;
  /**
   * Stores documents; resolves only once they are durable. A document already
   * stored (same event.id) is kept once. Documents that can never be stored
   * (no event.id, @timestamp or host) are not retried: they come back in
   * `refused` with the reason, and the rest are stored.
   */
  write(documents: readonly EcsDocument[]): Promise<EventWriteResult>;
  close(): Promise<void>;
}

export interface EventWriteResult {
  /** Documents newly stored or already present. */
  stored: number;
  refused: RefusedEvent[];
}

export interface RefusedEvent {
  /** event.id when the document has one. */
  id?: string;
  reason: string;
}

/** Largest page an event search returns, whatever the caller asks for. */
export const MAX_EVENT_PAGE_SIZE = 1000;
/** Longest free-text or prefix filter accepted (characters). */
export const MAX_EVENT_TEXT_LENGTH = 256;
/** Bounds of a process tree: processes in all, and events kept per process. */
export const MAX_TREE_PROCESSES = 500;
export const MAX_EVENTS_PER_PROCESS = 500;
/** How far ancestry is followed upwards. */
export const MAX_TREE_DEPTH = 64;

export type EventOrder = "asc" | "desc";

/** One page of an analyst's event search; every given filter must match. */
export interface EventSearch {
  /** Page size, 1..MAX_EVENT_PAGE_SIZE. */
  size: number;
  hostId?: string;
  hostName?: string;
  /** Events at or after this time (ms since epoch). */
  fromMs?: number;
  /** Events before this time (ms since epoch). */
  toMs?: number;
  /** Any of these event.category values (process, network, file, ...). */
  categories?: string[];
  /** Any of these event.action values (exec, connect, open-read, ...). */
  actions?: string[];
  /** process.executable, exactly. */
  executable?: string;
  /** process.entity_id, exactly. */
  processEntityId?: string;
  /** process.pid, exactly. */
  pid?: number;
  /** user.name, exactly. */
  userName?: string;
  /** destination.ip, exactly. */
  destinationIp?: string;
  destinationPort?: number;
  /** file.path starts with this (case-sensitive). */
  filePathPrefix?: string;
  /** Case-insensitive substring of the command line, file path or executable. */
  text?: string;
  /** Newest first (default) or oldest first. */
  order?: EventOrder;
  /** nextCursor of the previous page (of the same search). */
  cursor?: string;
}

export interface EventPage {
  events: EcsDocument[];
  /** Pass as `cursor` for the next page; null when this page is the last. */
  nextCursor: string | null;
}

/** Process tree of a host around one process. */
export interface ProcessTreeQuery {
  hostId: string;
  /** The process: its entity id, or a pid resolved at `atMs`. */
  entityId?: string;
  pid?: number;
  /** The moment the pid is resolved at (the process with that pid seen last at or before it). */
  atMs?: number;
  /** Events of each process kept only within [fromMs, toMs) when given. */
  fromMs?: number;
  toMs?: number;
  /** Events per process, 0..MAX_EVENTS_PER_PROCESS (default 100). */
  eventsPerProcess?: number;
  /** Processes in all, 1..MAX_TREE_PROCESSES (default 200). */
  maxProcesses?: number;
}

export type ProcessRelation = "ancestor" | "self" | "descendant";

export interface ProcessNode {
  entityId: string;
  relation: ProcessRelation;
  /** Generations from the asked process: -1 its parent, 0 itself, 1 a child. */
  depth: number;
  parentEntityId?: string;
  pid?: number;
  name?: string;
  executable?: string;
  commandLine?: string;
  userName?: string;
  /** process.start when known (ISO). */
  start?: string;
  /** Whether events of its own were found; an ancestor may be known only from its children's documents. */
  seen: boolean;
  /** Its events, oldest first (within the window when one was asked). */
  events: EcsDocument[];
  /** More events exist than were returned. */
  eventsTruncated: boolean;
}

export interface ProcessTree {
  hostId: string;
  entityId: string;
  /** Ancestors first (root-most first), then the process, then descendants breadth-first. */
  processes: ProcessNode[];
  /** Descendants were cut at maxProcesses. */
  truncated: boolean;
}

/** "Around this alert": the alert's process, its ancestry and what they and its descendants did. */
export interface AlertContext {
  alert: EcsDocument;
  fromMs: number;
  toMs: number;
  /** Null when the alert names no process (or no host). */
  tree: ProcessTree | null;
}

/** What the API reads events with: the SQLite store or Elasticsearch. */
export interface EventQueries {
  search(search: EventSearch): Promise<EventPage>;
  processTree(query: ProcessTreeQuery): Promise<ProcessTree>;
}

/** Retention of the embedded store: oldest events go first once either bound is passed. */
export interface EventRetention {
  /** Sum of stored document bytes kept at most. */
  maxBytes?: number;
  /** Events older than this many days (by @timestamp) are removed. */
  maxDays?: number;
}
