import {
  type AgentPolicy,
  type Bus,
  ErrorCodes,
  isVigilError,
  type KvBucket,
  type KvEntry,
  type KvWatch,
  type Logger,
  VigilError,
} from "@vigil/common";
import type { TargetableAgent } from "../control/agent-target";
import {
  type ConfigDocument,
  ConfigDocumentInvalid,
  checkDocumentName,
  decodeStoredDocument,
  encodeDocument,
  FLEET_DEFAULT_NAME,
  parsePolicy,
  type StoredConfigDocument,
} from "./config-document";
import { type EffectivePolicy, effectivePolicy } from "./effective-policy";

/** The agent config bucket: `doc.<name>` documents and the `epoch` key a deletion bumps. */
export const AGENT_CONFIG_BUCKET = {
  name: "vigil-agent-config",
  history: 16,
  ttlMs: 0,
  maxValueBytes: 256 * 1024,
} as const;

const DOC_PREFIX = "doc.";
const EPOCH_KEY = "epoch";
/** Documents kept; a fleet has a handful of groups and selectors, not thousands. */
export const MAX_CONFIG_DOCUMENTS = 500;

/** A change the store refused: 404 (no such document) or 409 (conflict). */
export class ConfigChangeRefused extends Error {
  constructor(
    readonly status: 404 | 409,
    message: string,
  ) {
    super(message);
  }
}

export type ConfigChangeListener = () => void;

/**
 * The agent config documents of the fleet, in a KV bucket every server
 * watches: this instance's view is kept current by the watch (and by its own
 * writes at once), so the effective policy of an agent is computed locally
 * and every instance computes the same one.
 */
export class AgentConfigStore {
  private readonly documents = new Map<string, StoredConfigDocument>();
  /** Latest revision seen per key, puts and tombstones: older watch entries are ignored. */
  private readonly seen = new Map<string, number>();
  private epoch = 0;
  private readonly listeners = new Set<ConfigChangeListener>();
  private watch: KvWatch | undefined;

  private constructor(
    private readonly kv: KvBucket,
    private readonly logger: Logger,
  ) {}

  /** Opens the bucket, seeds the fleet default from `seed` when there is none, and starts watching. */
  static async open(bus: Bus, seed: AgentPolicy, logger: Logger): Promise<AgentConfigStore> {
    const kv = await bus.openKv({ ...AGENT_CONFIG_BUCKET });
    const store = new AgentConfigStore(kv, logger);
    await store.seed(seed);
    // Resolves with every document applied: the view is complete before the first agent.
    store.watch = await kv.watch({ key: ">", initialValues: true }, (entry) => store.apply(entry));
    return store;
  }

  close(): void {
    this.watch?.stop();
    this.listeners.clear();
  }

  list(): StoredConfigDocument[] {
    return [...this.documents.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  get(name: string): StoredConfigDocument | undefined {
    return this.documents.get(name);
  }

  effectiveFor(agent: TargetableAgent): EffectivePolicy {
    return effectivePolicy(this.documents.values(), this.epoch, agent);
  }

  /** The fleet default alone (an agent with no labels or groups). */
  fleetDefault(): EffectivePolicy {
    return this.effectiveFor({ agentId: "", labels: {}, groups: [] });
  }

  /**
   * Replaces the fleet default's policy (VigilServer.setAgentPolicy, for
   * embedders and tests). Throws VIGIL_ERR_CONFIG_INVALID naming the bad key;
   * nothing changes then.
   */
  async setFleetDefault(policy: unknown, updatedBy = "system"): Promise<EffectivePolicy> {
    let parsed: AgentPolicy;
    try {
      parsed = parsePolicy(policy, "agentPolicy");
    } catch (error) {
      if (error instanceof ConfigDocumentInvalid) {
        throw new VigilError(ErrorCodes.CONFIG_INVALID, `invalid agent policy: ${error.message}`);
      }
      throw error;
    }
    const current = this.documents.get(FLEET_DEFAULT_NAME);
    await this.put({
      name: FLEET_DEFAULT_NAME,
      target: "fleet",
      priority: 0,
      description: current?.description ?? "",
      policy: parsed,
      updatedAt: new Date().toISOString(),
      updatedBy,
    });
    return this.fleetDefault();
  }

  /** Calls `listener` after every change to the view (own writes and other servers'). */
  subscribe(listener: ConfigChangeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Creates or replaces a document. A document keeps its target for life (so
   * a version always grows when an agent's policy changes): retargeting is a
   * 409, delete it and create another. Compare-and-set against the revision
   * read, so two servers writing at once do not lose an update silently.
   */
  async put(
    document: ConfigDocument,
  ): Promise<{ before?: StoredConfigDocument; after: StoredConfigDocument }> {
    const key = DOC_PREFIX + document.name;
    const current = await this.kv.get(key);
    const before = current ? decodeStoredDocument(current.value, current.revision) : undefined;
    if (before && before.target !== document.target) {
      throw new ConfigChangeRefused(
        409,
        `target: document ${document.name} targets ${before.target}; a document keeps its target (delete it and create another)`,
      );
    }
    if (!current && this.documents.size >= MAX_CONFIG_DOCUMENTS) {
      throw new ConfigChangeRefused(409, `at most ${MAX_CONFIG_DOCUMENTS} agent config documents`);
    }
    const value = encodeDocument(document);
    let revision: number;
    try {
      revision = current
        ? await this.kv.update(key, value, current.revision)
        : await this.kv.create(key, value);
    } catch (error) {
      if (isVigilError(error, ErrorCodes.KV_CONFLICT)) {
        throw new ConfigChangeRefused(
          409,
          `document ${document.name} changed meanwhile; read it again and retry`,
        );
      }
      throw error;
    }
    this.apply({ key, value, revision, createdMs: Date.now(), operation: "put" });
    const after = this.documents.get(document.name);
    if (!after) throw new Error(`agent config document ${document.name} did not decode after it was written`);
    return { before, after };
  }

  /** Deletes a document and raises the epoch; the fleet default cannot be deleted (put an empty one). */
  async delete(name: string): Promise<StoredConfigDocument> {
    checkDocumentName(name);
    if (name === FLEET_DEFAULT_NAME) {
      throw new ConfigDocumentInvalid(
        `name: the fleet default cannot be deleted; put {"policy": {}} to make it empty`,
      );
    }
    const key = DOC_PREFIX + name;
    const current = await this.kv.get(key);
    const before = current ? decodeStoredDocument(current.value, current.revision) : undefined;
    if (!current || !before) throw new ConfigChangeRefused(404, `no agent config document ${name}`);
    try {
      await this.kv.delete(key, current.revision);
    } catch (error) {
      if (isVigilError(error, ErrorCodes.KV_CONFLICT)) {
        throw new ConfigChangeRefused(409, `document ${name} changed meanwhile; read it again and retry`);
      }
      throw error;
    }
    // The tombstone's revision already raises the epoch where it is seen; the
    // epoch key keeps it raised for servers that start later.
    const epochValue = Buffer.from(JSON.stringify({ deleted: name, at: new Date().toISOString() }));
    const revision = await this.kv.put(EPOCH_KEY, epochValue);
    // Gone from this view at once; the watch brings the tombstone (and any later re-creation) in order.
    if (this.documents.get(name)?.revision === current.revision) this.documents.delete(name);
    this.apply({ key: EPOCH_KEY, value: epochValue, revision, createdMs: Date.now(), operation: "put" });
    return before;
  }

  private async seed(policy: AgentPolicy): Promise<void> {
    const document: ConfigDocument = {
      name: FLEET_DEFAULT_NAME,
      target: "fleet",
      priority: 0,
      description: "fleet default, seeded from the server's agentPolicy",
      policy: parsePolicy(policy, "agentPolicy"),
      updatedAt: new Date().toISOString(),
      updatedBy: "config",
    };
    try {
      await this.kv.create(DOC_PREFIX + FLEET_DEFAULT_NAME, encodeDocument(document));
      this.logger.info("agent config: fleet default seeded from agentPolicy");
    } catch (error) {
      // Another server (or an earlier start) seeded it: the bucket's wins.
      if (!isVigilError(error, ErrorCodes.KV_CONFLICT)) throw error;
    }
  }

  private apply(entry: KvEntry): void {
    if ((this.seen.get(entry.key) ?? 0) >= entry.revision) return;
    this.seen.set(entry.key, entry.revision);
    if (entry.key === EPOCH_KEY || entry.operation === "delete") {
      this.epoch = Math.max(this.epoch, entry.revision);
    }
    if (entry.key.startsWith(DOC_PREFIX)) {
      const name = entry.key.slice(DOC_PREFIX.length);
      if (entry.operation === "delete") this.documents.delete(name);
      else {
        const document = decodeStoredDocument(entry.value, entry.revision);
        if (document) this.documents.set(name, document);
        else
          this.logger.error(
            { key: entry.key, revision: entry.revision },
            "agent config: undecodable document ignored",
          );
      }
    }
    for (const listener of this.listeners) {
      try {
        listener();
      } catch (error) {
        this.logger.error({ err: error }, "agent config listener failed");
      }
    }
  }
}
