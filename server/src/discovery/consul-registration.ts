import {
  type ConsulCheckStatus,
  ConsulClient,
  ConsulHttpError,
  type ConsulServiceRegistration,
  isVigilError,
  type Logger,
  resolveConsulConnection,
} from "@vigil/common";
import type { ServerConfig } from "../config";

/** What the TTL check reports: healthy (agents may come) or not, and why. */
export interface ServingHealth {
  healthy: boolean;
  /** Written into the check's Output (e.g. "NATS unreachable"); never a secret. */
  output: string;
}

export interface ConsulRegistrationOptions {
  config: ServerConfig["consul"];
  serverId: string;
  /** Where agents reach this server (the bound gRPC host and port). */
  grpcHost: string;
  grpcPort: number;
  /** Asked on every TTL tick: a server whose bus is unreachable reports critical. */
  health: () => ServingHealth;
  logger: Logger;
}

const WILDCARD_HOSTS = new Set(["0.0.0.0", "::", "[::]", ""]);
/** How often the health is looked at: a change reaches Consul within this, not a third of the TTL. */
const HEALTH_POLL_MS = 1000;

/**
 * Registers this server with the local Consul agent as an instance of
 * `consul.service`, with a TTL check the server itself keeps passing while its
 * bus (NATS) is reachable and sets critical, with the reason, when it is not:
 * agents move away from a server that cannot store their events, and a server
 * that hangs or dies goes critical when its TTL runs out. Deregisters on
 * shutdown, before the gRPC port closes, so agents leave at once instead of
 * on a failed stream. A failed registration is retried in the background; it
 * never stops the server.
 */
export class ConsulRegistration {
  private readonly client: ConsulClient;
  private readonly serviceId: string;
  private readonly checkId: string;
  private registeredOnce = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private ttlTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private attempts = 0;
  private lastReported: { status: ConsulCheckStatus; output: string; at: number } | undefined;
  private updating = false;

  constructor(private readonly options: ConsulRegistrationOptions) {
    this.client = new ConsulClient(resolveConsulConnection(options.config));
    this.serviceId = options.config.serviceId ?? `${options.config.service}-${options.serverId}`;
    this.checkId = `${this.serviceId}:ttl`;
  }

  get id(): string {
    return this.serviceId;
  }

  isRegistered(): boolean {
    return this.registeredOnce;
  }

  /** The registration body (exported for tests and the docs). */
  registration(): ConsulServiceRegistration {
    const { config, grpcHost, grpcPort, serverId } = this.options;
    const advertised = config.advertiseAddress ?? (WILDCARD_HOSTS.has(grpcHost) ? undefined : grpcHost);
    return {
      ID: this.serviceId,
      Name: config.service,
      Tags: config.tags,
      // Empty: Consul answers with the node's address.
      ...(advertised ? { Address: advertised.replace(/^\[|\]$/g, "") } : {}),
      Port: config.advertisePort ?? grpcPort,
      Meta: { serverId },
      Check: {
        CheckID: this.checkId,
        Name: "vigil-server serving (bus reachable)",
        TTL: `${config.checkTtlMs}ms`,
        // Critical until the first update says otherwise: no agent is sent to a server not yet known good.
        Status: "critical",
        DeregisterCriticalServiceAfter: `${config.deregisterCriticalAfterMs}ms`,
      },
    };
  }

  /** First attempt now; on failure, retries in the background. Never throws. */
  async start(): Promise<void> {
    await this.attempt();
  }

  /** Deregisters (if registered) and stops retrying and updating. Never throws. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.retryTimer);
    clearTimeout(this.ttlTimer);
    if (this.registeredOnce) {
      try {
        await this.client.deregisterService(this.serviceId);
        this.options.logger.info({ serviceId: this.serviceId }, "deregistered from Consul");
      } catch (error) {
        this.options.logger.warn(
          { serviceId: this.serviceId, error: messageOf(error) },
          "Consul deregistration failed (the TTL check expires and the critical instance is removed)",
        );
      }
    }
    await this.client.close();
  }

  private async attempt(): Promise<void> {
    if (this.stopped) return;
    this.attempts++;
    const body = this.registration();
    try {
      await this.client.registerService(body);
      this.registeredOnce = true;
      this.attempts = 0;
      this.lastReported = undefined;
      this.options.logger.info(
        { serviceId: this.serviceId, service: body.Name, port: body.Port, ttl: body.Check?.TTL },
        "registered in Consul",
      );
      await this.tick();
    } catch (error) {
      const delay = Math.min(30_000, 1000 * 2 ** Math.min(this.attempts - 1, 5));
      this.options.logger.error(
        { serviceId: this.serviceId, consul: this.client.address, error: messageOf(error), retryInMs: delay },
        "Consul registration failed: retrying",
      );
      if (this.stopped) return;
      this.retryTimer = setTimeout(() => void this.attempt(), delay);
      this.retryTimer.unref();
    }
  }

  /** Reports the health when it changed or a third of the TTL passed since the last report. */
  private async tick(): Promise<void> {
    if (this.stopped || this.updating) return;
    const { healthy, output } = this.options.health();
    const status: ConsulCheckStatus = healthy ? "passing" : "critical";
    const last = this.lastReported;
    const due =
      !last ||
      last.status !== status ||
      last.output !== output ||
      Date.now() - last.at >= this.options.config.checkTtlMs / 3;
    if (due) {
      this.updating = true;
      try {
        await this.client.updateTtlCheck(this.checkId, status, output);
        if (!last || last.status !== status) {
          const log = healthy ? this.options.logger.info : this.options.logger.warn;
          log.call(
            this.options.logger,
            { checkId: this.checkId, status, output },
            "Consul TTL check updated",
          );
        }
        this.lastReported = { status, output, at: Date.now() };
      } catch (error) {
        if (error instanceof ConsulHttpError && error.status === 404) {
          // The Consul agent lost the registration (restarted without state): register again.
          this.options.logger.warn(
            { serviceId: this.serviceId },
            "Consul forgot this instance: registering again",
          );
          this.updating = false;
          return this.attempt();
        }
        this.options.logger.warn(
          { checkId: this.checkId, error: messageOf(error) },
          "Consul TTL update failed",
        );
      } finally {
        this.updating = false;
      }
    }
    if (this.stopped) return;
    clearTimeout(this.ttlTimer);
    this.ttlTimer = setTimeout(
      () => void this.tick(),
      Math.min(HEALTH_POLL_MS, Math.floor(this.options.config.checkTtlMs / 3)),
    );
    this.ttlTimer.unref();
  }
}

function messageOf(error: unknown): string {
  return isVigilError(error) || error instanceof Error ? error.message : String(error);
}
