// Reading a field out of a document, compiled once per path. The lower-cased
// view of a field is computed once per document and shared by every rule that
// reads it case-insensitively: a process event's command line is lower-cased
// once, not once per rule. Documents are treated as immutable while matched
// (the hub decodes a fresh object per event).

import type { EcsDocument } from "./types";

export type Getter = (doc: EcsDocument) => unknown;

export function isAbsent(value: unknown): boolean {
  return value === undefined || value === null || (Array.isArray(value) && value.length === 0);
}

/** Field value as text for string matching; objects never match. */
export function toText(value: unknown): string | undefined {
  switch (typeof value) {
    case "string":
      return value;
    case "number":
    case "boolean":
    case "bigint":
      return String(value);
    default:
      return undefined;
  }
}

function compilePathGetter(path: readonly string[]): Getter {
  if (path.length === 1) {
    const [a] = path;
    return (doc) => doc[a];
  }
  if (path.length === 2) {
    const [a, b] = path;
    return (doc) => {
      const node = doc[a];
      return typeof node === "object" && node !== null ? (node as Record<string, unknown>)[b] : undefined;
    };
  }
  return (doc) => {
    let node: unknown = doc;
    for (const segment of path) {
      if (typeof node !== "object" || node === null) return undefined;
      node = (node as Record<string, unknown>)[segment];
    }
    return node;
  };
}

/**
 * Reads `path`; with `alsoPaths`, the values present at any of the paths, as one
 * value when only one is present and as a flat list otherwise (so they match like
 * an array field).
 */
function compileGetter(path: readonly string[], alsoPaths: readonly (readonly string[])[]): Getter {
  const first = compilePathGetter(path);
  if (alsoPaths.length === 0) return first;
  const getters = [first, ...alsoPaths.map(compilePathGetter)];
  return (doc) => {
    let found: unknown;
    let many: unknown[] | undefined;
    for (const get of getters) {
      const value = get(doc);
      if (isAbsent(value)) continue;
      if (found === undefined && many === undefined) {
        found = value;
        continue;
      }
      many ??= Array.isArray(found) ? [...found] : [found];
      if (Array.isArray(value)) many.push(...value);
      else many.push(value);
    }
    return many ?? found;
  };
}

function lowerValue(value: unknown): unknown {
  if (typeof value === "string") return value.toLowerCase();
  if (Array.isArray(value)) return value.map(lowerValue);
  return toText(value);
}

interface FieldReader {
  raw: Getter;
  lower: Getter;
}

/** One reader per distinct path list, shared by all rules (bounded by the fields rules name). */
const readers = new Map<string, FieldReader>();

/** Remembers the value for the last document (merging several paths allocates). */
function memoised(get: Getter): Getter {
  let lastDoc: EcsDocument | undefined;
  let last: unknown;
  return (doc) => {
    if (doc !== lastDoc) {
      last = get(doc);
      lastDoc = doc;
    }
    return last;
  };
}

function makeReader(raw: Getter): FieldReader {
  let lastDoc: EcsDocument | undefined;
  let lastLower: unknown;
  return {
    raw,
    lower: (doc) => {
      if (doc !== lastDoc) {
        lastLower = lowerValue(raw(doc));
        lastDoc = doc;
      }
      return lastLower;
    },
  };
}

/** The raw and lower-cased getters of a field (Image reads two paths). */
export function fieldReader(
  path: readonly string[],
  alsoPaths: readonly (readonly string[])[] = [],
): FieldReader {
  const key = [path, ...alsoPaths].map((p) => p.join(".")).join("|");
  let reader = readers.get(key);
  if (reader === undefined) {
    const getter = compileGetter(path, alsoPaths);
    reader = makeReader(alsoPaths.length > 0 ? memoised(getter) : getter);
    readers.set(key, reader);
  }
  return reader;
}
