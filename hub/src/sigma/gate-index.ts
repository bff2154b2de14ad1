// Finds, in one pass over each gated field of an event, which rules' gate
// literals (literal-gates.ts) occur in it. Every literal is filed under one of
// its two-character pairs; the scan looks each pair of the field's lower-cased
// text up in that table and confirms a candidate with startsWith at the
// literal's offset. The cost grows with the field's length, not with the
// number of rules or literals, and nothing is allocated per event.

import { fieldReader, type Getter } from "./field-values";
import type { Gate } from "./literal-gates";

/** Pairs fold to 7 bits per character: exact for ASCII, a shared slot otherwise (then confirmed). */
const PAIR_SLOTS = 1 << 14;

function pairSlot(text: string, at: number): number {
  return ((text.charCodeAt(at) & 0x7f) << 7) | (text.charCodeAt(at + 1) & 0x7f);
}

/** Characters frequent in paths and command lines: a pair without them is more telling. */
const COMMON_CHARACTERS = new Set("/ -._etaoinsrlcdubmhp0123456789");

/** The offset of the literal's most telling pair (the first of the rarest). */
function keyPairOffset(literal: string): number {
  let bestOffset = 0;
  let bestRarity = -1;
  for (let i = 0; i + 1 < literal.length; i++) {
    const rarity =
      Number(!COMMON_CHARACTERS.has(literal[i])) + Number(!COMMON_CHARACTERS.has(literal[i + 1]));
    if (rarity > bestRarity) {
      bestRarity = rarity;
      bestOffset = i;
    }
  }
  return bestOffset;
}

interface LiteralEntry {
  literal: string;
  /** Where the key pair sits in the literal. */
  offset: number;
  /** Slots (rule positions) the literal opens. */
  rules: number[];
}

class GatedField {
  private readonly table: (LiteralEntry[] | undefined)[] = new Array(PAIR_SLOTS).fill(undefined);
  private readonly entries = new Map<string, LiteralEntry>();

  constructor(readonly lower: Getter) {}

  add(literal: string, rule: number): void {
    let entry = this.entries.get(literal);
    if (entry === undefined) {
      const offset = keyPairOffset(literal);
      entry = { literal, offset, rules: [] };
      this.entries.set(literal, entry);
      const slot = pairSlot(literal, offset);
      const list = this.table[slot];
      if (list === undefined) this.table[slot] = [entry];
      else list.push(entry);
    }
    if (!entry.rules.includes(rule)) entry.rules.push(rule);
  }

  /** Stamps `open[rule] = stamp` for every rule whose literal occurs in the field's text. */
  scan(doc: Parameters<Getter>[0], open: Int32Array, stamp: number): void {
    const value = this.lower(doc);
    if (typeof value === "string") this.scanText(value, open, stamp);
    else if (Array.isArray(value))
      for (const element of value) if (typeof element === "string") this.scanText(element, open, stamp);
  }

  private scanText(text: string, open: Int32Array, stamp: number): void {
    const table = this.table;
    const last = text.length - 1;
    for (let i = 0; i < last; i++) {
      const candidates = table[pairSlot(text, i)];
      if (candidates === undefined) continue;
      for (const entry of candidates) {
        const start = i - entry.offset;
        if (start < 0 || !text.startsWith(entry.literal, start)) continue;
        for (const rule of entry.rules) open[rule] = stamp;
      }
    }
  }
}

/**
 * The gates of a list of rules (positions 0..n-1). After `scan(doc)`, a rule
 * may match only if it has no gate or `isOpen(position)`.
 */
export class GateIndex {
  private readonly fields: GatedField[] = [];
  private readonly gated: boolean[];
  private readonly open: Int32Array;
  private stamp = 0;

  constructor(gates: readonly (Gate | undefined)[]) {
    this.gated = gates.map((gate) => gate !== undefined);
    this.open = new Int32Array(gates.length);
    const byField = new Map<string, GatedField>();
    gates.forEach((gate, rule) => {
      for (const { path, alsoPaths, literals } of gate ?? []) {
        const key = [path, ...alsoPaths].map((p) => p.join(".")).join("|");
        let field = byField.get(key);
        if (field === undefined) {
          field = new GatedField(fieldReader(path, alsoPaths).lower);
          byField.set(key, field);
        }
        for (const literal of literals) field.add(literal, rule);
      }
    });
    this.fields = [...byField.values()];
  }

  /** Whether any rule has a gate (an index without gates need not scan). */
  get active(): boolean {
    return this.fields.length > 0;
  }

  /** Opens the gates whose literals the document holds. */
  scan(doc: Parameters<Getter>[0]): void {
    if (this.stamp === 0x7fffffff) {
      this.open.fill(0);
      this.stamp = 0;
    }
    this.stamp++;
    for (const field of this.fields) field.scan(doc, this.open, this.stamp);
  }

  /** After scan: whether the rule at `position` can match. */
  isOpen(position: number): boolean {
    return !this.gated[position] || this.open[position] === this.stamp;
  }
}
