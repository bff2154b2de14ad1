// The ruleset as stored in the control-plane KV bucket: written by the
// server's rules API, read by every hub. One immutable document per version
// (`ruleset.<n>`), a `current` pointer the hubs watch, and rule bodies that do
// not fit inline stored once each under their sha256 (`rule-body.<sha256>`).

import { createHash } from "node:crypto";
import { ErrorCodes, type KvBucket, type KvBucketSpec, VigilError } from "@vigil/common";

/** NATS' default max_payload is 1 MiB; a version document or rule body must fit in one message. */
export const RULESETS_BUCKET: KvBucketSpec = {
  name: "vigil-rulesets",
  history: 8,
  ttlMs: 0,
  maxValueBytes: 1024 * 1024,
};

export const CURRENT_KEY = "current";
const VERSION_PREFIX = "ruleset.";
const BODY_PREFIX = "rule-body.";

export function versionKey(version: number): string {
  return `${VERSION_PREFIX}${version}`;
}

export function bodyKey(sha256: string): string {
  return `${BODY_PREFIX}${sha256}`;
}

/** Key pattern of every version document; keys() of it lists the versions. */
export const VERSION_KEYS = `${VERSION_PREFIX}*`;

export function versionOfKey(key: string): number | undefined {
  if (!key.startsWith(VERSION_PREFIX)) return undefined;
  const version = Number(key.slice(VERSION_PREFIX.length));
  return Number.isSafeInteger(version) && version > 0 ? version : undefined;
}

export function sha256Hex(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

/** Who made a version and how; shown in version lists and rule histories. */
export interface RulesetChange {
  /** "seed", "rule.create", "rule.update", "rule.enable", "rule.disable", "rule.delete", "ruleset.rollback". */
  action: string;
  /** The rule the change was about (absent for seed and rollback). */
  ruleId?: string;
  /** For a rollback: the version whose rules were restored. */
  restoredVersion?: number;
  actor: { id: string; name: string };
  /** ISO-8601. */
  time: string;
}

/** One rule in a stored version: the YAML inline, or only its hash when stored under bodyKey. */
export interface StoredRuleEntry {
  id: string;
  enabled: boolean;
  sha256: string;
  yaml?: string;
}

export interface StoredRulesetDocument {
  version: number;
  /** The version this one was derived from (absent for the first). */
  parent?: number;
  change: RulesetChange;
  rules: StoredRuleEntry[];
}

export interface RulesetRule {
  id: string;
  enabled: boolean;
  sha256: string;
  yaml: string;
}

/** A version with every rule body resolved. */
export interface RulesetVersion {
  version: number;
  parent?: number;
  change: RulesetChange;
  rules: RulesetRule[];
}

export interface CurrentPointer {
  version: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeJson(value: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(value));
}

export function decodeJson<T>(bytes: Uint8Array, what: string): T {
  try {
    return JSON.parse(decoder.decode(bytes)) as T;
  } catch (error) {
    throw new VigilError(ErrorCodes.RULE_INVALID, `${what}: not valid JSON`, { cause: error });
  }
}

/** The pointer's version and KV revision (the CAS token), or undefined when nothing was ever stored. */
export async function readCurrentPointer(
  kv: KvBucket,
): Promise<{ version: number; revision: number } | undefined> {
  const entry = await kv.get(CURRENT_KEY);
  if (entry === undefined) return undefined;
  const pointer = decodeJson<CurrentPointer>(entry.value, `${kv.name}/${CURRENT_KEY}`);
  if (!Number.isSafeInteger(pointer.version) || pointer.version < 1) {
    throw new VigilError(ErrorCodes.RULE_INVALID, `${kv.name}/${CURRENT_KEY}: no valid version number`);
  }
  return { version: pointer.version, revision: entry.revision };
}

export async function readStoredDocument(
  kv: KvBucket,
  version: number,
): Promise<StoredRulesetDocument | undefined> {
  const entry = await kv.get(versionKey(version));
  if (entry === undefined) return undefined;
  return decodeJson<StoredRulesetDocument>(entry.value, `${kv.name}/${versionKey(version)}`);
}

/**
 * Rule bodies are immutable (keyed by their hash), so a reader may keep them:
 * the hub and the server each hold one cache and fetch only new bodies.
 */
export class RuleBodyCache {
  private readonly bodies = new Map<string, string>();

  constructor(private readonly maxEntries = 10_000) {}

  async body(kv: KvBucket, entry: StoredRuleEntry): Promise<string> {
    if (entry.yaml !== undefined) return entry.yaml;
    const cached = this.bodies.get(entry.sha256);
    if (cached !== undefined) return cached;
    const stored = await kv.get(bodyKey(entry.sha256));
    if (stored === undefined) {
      throw new VigilError(
        ErrorCodes.RULE_INVALID,
        `${kv.name}: body of rule ${entry.id} (${bodyKey(entry.sha256)}) is missing`,
      );
    }
    const yaml = decoder.decode(stored.value);
    if (sha256Hex(yaml) !== entry.sha256) {
      throw new VigilError(
        ErrorCodes.RULE_INVALID,
        `${kv.name}: body of rule ${entry.id} does not match its hash`,
      );
    }
    if (this.bodies.size >= this.maxEntries) this.bodies.clear();
    this.bodies.set(entry.sha256, yaml);
    return yaml;
  }
}

/** Reads one version with its rule bodies; undefined when that version does not exist. */
export async function readRulesetVersion(
  kv: KvBucket,
  version: number,
  bodies: RuleBodyCache,
): Promise<RulesetVersion | undefined> {
  const document = await readStoredDocument(kv, version);
  if (document === undefined) return undefined;
  const rules: RulesetRule[] = [];
  for (const entry of document.rules) {
    rules.push({
      id: entry.id,
      enabled: entry.enabled,
      sha256: entry.sha256,
      yaml: await bodies.body(kv, entry),
    });
  }
  return { version: document.version, parent: document.parent, change: document.change, rules };
}
