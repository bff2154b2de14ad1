import { type ConsulClient, type ConsulServiceEntry, isVigilError, type Logger } from "@vigil/common";
import { backoffDelayMs } from "../transport/backoff";
import { BaseServerSource, hostPort } from "./base-source";
import type { ServerCandidate } from "./types";

export interface ConsulServerSourceOptions {
  /** Owned by the source: closed by stop(). */
  client: ConsulClient;
  /** Consul service name the servers register as. */
  service: string;
  /** Only instances carrying all of these tags. */
  tags: readonly string[];
  /** How long Consul holds a blocking query when nothing changes. */
  waitMs: number;
  /** Longest start() waits for Consul's first answer. */
  initialWaitMs?: number;
  /** Least time between two queries (Consul asks clients to rate-limit their blocking loops). */
  minIntervalMs?: number;
  backoffInitialMs?: number;
  backoffMaxMs?: number;
  logger: Logger;
}

/**
 * The passing instances of a Consul service, kept current with blocking
 * queries on /v1/health/service/:service, so a check going critical or an
 * instance leaving reaches the agent at once. Index handling follows Consul's
 * blocking-query notes: an index that goes backwards restarts from 0, one that
 * is not above 0 is taken as 1, consecutive queries are rate-limited, errors
 * back off. While Consul cannot be reached the last list stays.
 */
export class ConsulServerSource extends BaseServerSource {
  readonly mode = "consul" as const;
  private index = 0;
  private stopped = false;
  private readonly abort = new AbortController();
  private loop: Promise<void> | undefined;
  private answered = false;
  private firstAnswer: (() => void) | undefined;
  private readonly counters = {
    queries: 0,
    queryErrors: 0,
    indexResets: 0,
    entriesSkipped: 0,
    answered: 0,
  };

  constructor(private readonly options: ConsulServerSourceOptions) {
    super();
  }

  /** True once Consul has answered at least once. */
  hasAnswered(): boolean {
    return this.answered;
  }

  async start(): Promise<void> {
    const first = new Promise<void>((resolve) => (this.firstAnswer = resolve));
    this.loop ??= this.run();
    let timer: NodeJS.Timeout | undefined;
    const wait = new Promise<void>(
      (resolve) => (timer = setTimeout(resolve, this.options.initialWaitMs ?? 5000)),
    );
    await Promise.race([first, wait]);
    clearTimeout(timer);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.abort.abort();
    await this.loop;
    await this.options.client.close();
  }

  stats(): Record<string, number> {
    return { ...this.counters, candidates: this.servers.length, changes: this.changes, index: this.index };
  }

  private async run(): Promise<void> {
    const { client, service, tags, waitMs, logger } = this.options;
    const minIntervalMs = this.options.minIntervalMs ?? 250;
    let failures = 0;
    while (!this.stopped) {
      const started = Date.now();
      this.counters.queries++;
      try {
        const result = await client.healthService({
          service,
          passing: true,
          tags,
          index: this.index,
          waitMs,
          signal: this.abort.signal,
        });
        if (this.stopped) break;
        if (failures > 0) logger.info({ consul: client.address }, "Consul answers again");
        failures = 0;
        this.nextIndex(result.index);
        this.install(result.entries);
      } catch (error) {
        if (this.stopped) break;
        failures++;
        this.counters.queryErrors++;
        const delay = backoffDelayMs(
          failures - 1,
          this.options.backoffInitialMs ?? 500,
          this.options.backoffMaxMs ?? 30_000,
        );
        // The message names the address and status, never the token.
        logger.warn(
          {
            consul: client.address,
            error: isVigilError(error) ? error.message : String(error),
            retryInMs: delay,
            kept: this.servers.length,
          },
          "Consul query for servers failed: keeping the last list",
        );
        this.index = 0;
        await this.sleep(delay);
        continue;
      }
      const elapsed = Date.now() - started;
      if (elapsed < minIntervalMs) await this.sleep(minIntervalMs - elapsed);
    }
  }

  /** Consul's rules: backwards → restart at 0; not above 0 → 1 (never a query that cannot block). */
  private nextIndex(returned: number): void {
    if (returned < this.index) {
      this.counters.indexResets++;
      this.options.logger.info(
        { previous: this.index, returned },
        "Consul index went backwards: starting over",
      );
      this.index = 0;
      return;
    }
    this.index = returned > 0 ? returned : 1;
  }

  private install(entries: ConsulServiceEntry[]): void {
    const servers: ServerCandidate[] = [];
    for (const entry of entries) {
      const candidate = toCandidate(entry, this.options.tags);
      if (candidate) servers.push(candidate);
      else this.counters.entriesSkipped++;
    }
    this.counters.answered++;
    const changed = this.update(servers);
    if (changed) {
      this.options.logger.info(
        { service: this.options.service, servers: servers.map((server) => server.address) },
        "healthy servers from Consul changed",
      );
    }
    if (!this.answered) {
      this.answered = true;
      this.firstAnswer?.();
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      const signal = this.abort.signal;
      function done() {
        clearTimeout(timer);
        signal.removeEventListener("abort", done);
        resolve();
      }
      signal.addEventListener("abort", done);
    });
  }
}

/**
 * A health entry as a candidate: Service.Address, or the node's address when
 * the service has none (Consul's rule); checks all passing (the query asked
 * for passing ones, checked again here); the wanted tags present.
 */
export function toCandidate(entry: ConsulServiceEntry, tags: readonly string[]): ServerCandidate | undefined {
  const service = entry?.Service;
  if (!service || !entry.Node) return undefined;
  const host = service.Address || entry.Node.Address;
  if (!host || !Number.isInteger(service.Port) || service.Port <= 0 || service.Port > 65535) return undefined;
  if (!(entry.Checks ?? []).every((check) => check.Status === "passing")) return undefined;
  const own = service.Tags ?? [];
  if (!tags.every((tag) => own.includes(tag))) return undefined;
  return { address: hostPort(host, service.Port), origin: `consul ${service.ID}@${entry.Node.Node}` };
}
