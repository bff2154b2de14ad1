// Maps a Sigma compiler message ("detection.sel[0]: 'Image|foo': unknown
// modifier 'foo'") to the line of the YAML node it names, so a rule author is
// told where to look. The compiler speaks in field paths; the YAML document
// (parsed with a LineCounter) knows where each key was written.

import { type Document, isMap, isPair, isScalar, isSeq, type LineCounter, type Node } from "yaml";

export interface SourcePosition {
  line: number;
  column: number;
}

type Segment = string | number;

/** The field path a compiler message starts with, and a quoted field key after it, if any. */
function parsePath(message: string): { path: Segment[]; key: string | undefined } {
  if (/^condition\b/.test(message)) return { path: ["detection", "condition"], key: undefined };
  const selection = /^selection '([^']+)'/.exec(message) ?? /^'(.+) \(keywords\)'/.exec(message);
  if (selection) return { path: ["detection", ...splitSegments(selection[1])], key: undefined };
  const head = /^([^\s:']+):\s*(?:'([^']+)')?/.exec(message);
  if (!head) return { path: [], key: undefined };
  return { path: splitSegments(head[1]), key: head[2] };
}

/** "detection.sel[0]" → ["detection", "sel", 0]. */
function splitSegments(path: string): Segment[] {
  const out: Segment[] = [];
  for (const part of path.split(".")) {
    const indexed = /^(.*?)((?:\[\d+\])+)$/.exec(part);
    if (!indexed) {
      out.push(part);
      continue;
    }
    if (indexed[1] !== "") out.push(indexed[1]);
    for (const index of indexed[2].matchAll(/\[(\d+)\]/g)) out.push(Number(index[1]));
  }
  return out;
}

function keyText(pairKey: unknown): string | undefined {
  return isScalar(pairKey) ? String(pairKey.value) : undefined;
}

interface Found {
  node: Node | null;
  offset: number;
}

/** Walks the path; selection names may hold dots, so a map step also tries joined segments. */
function walk(node: Node | null, path: Segment[], offset: number): Found {
  if (path.length === 0 || node === null) return { node, offset };
  const [first, ...rest] = path;
  if (typeof first === "number") {
    if (!isSeq(node)) return { node, offset };
    const item = node.items[first];
    if (item === undefined || isPair(item)) return { node, offset };
    const child = item as Node;
    return walk(child, rest, child.range?.[0] ?? offset);
  }
  if (!isMap(node)) return { node, offset };
  for (let take = 1; take <= path.length; take++) {
    const joined = path.slice(0, take);
    if (joined.some((segment) => typeof segment === "number")) break;
    const name = joined.join(".");
    const pair = node.items.find((item) => keyText(item.key) === name);
    if (pair === undefined) continue;
    const keyOffset = (pair.key as Node).range?.[0] ?? offset;
    return walk((pair.value as Node | null) ?? null, path.slice(take), keyOffset);
  }
  return { node, offset };
}

/** The offset of a key named `key` anywhere under node, depth first. */
function findKey(node: Node | null, key: string): number | undefined {
  if (node === null) return undefined;
  if (isMap(node)) {
    for (const pair of node.items) {
      if (keyText(pair.key) === key) return (pair.key as Node).range?.[0];
      const inner = findKey(pair.value as Node | null, key);
      if (inner !== undefined) return inner;
    }
  } else if (isSeq(node)) {
    for (const item of node.items) {
      const inner = findKey(item as Node | null, key);
      if (inner !== undefined) return inner;
    }
  }
  return undefined;
}

/**
 * Where in the YAML a compiler message points, or undefined when it names
 * nothing that was written (a missing field).
 */
export function locateProblem(
  document: Document,
  lineCounter: LineCounter,
  message: string,
): SourcePosition | undefined {
  const { path, key } = parsePath(message);
  if (path.length === 0) return undefined;
  const root = document.contents as Node | null;
  const found = walk(root, path, -1);
  let offset = found.offset;
  if (key !== undefined) offset = findKey(found.node, key) ?? offset;
  if (offset < 0) return undefined;
  const { line, col } = lineCounter.linePos(offset);
  return { line, column: col };
}
