import {
  ConsulClient,
  type ConsulServiceRegistration,
  isVigilError,
  type Logger,
  resolveConsulConnection,
} from "@vigil/common";
import type { ServerConfig } from "../config";

export interface ConsulRegistrationOptions {
  config: ServerConfig["consul"];
  serverId: string;
  /** Where agents reach this server (the bound gRPC host and port). */
  grpcHost: string;
  grpcPort: number;
  /** Where the local Consul agent reaches /healthz. */
  apiHost: string;
  apiPort: number;
  logger: Logger;
}

const WILDCARD_HOSTS = new Set(["0.0.0.0", "::", "[::]", ""]);

/**
 * Registers this server with the local Consul agent as an instance of
 * `consul.service`, with an HTTP check on its /healthz (a server whose bus is
 * down fails it, and agents move away), and deregisters it on shutdown, before
 * the gRPC port closes, so agents leave at once instead of on a failed stream.
 * A failed registration is retried in the background; it never stops the server.
 */
export class ConsulRegistration {
  private readonly client: ConsulClient;
  private readonly serviceId: string;
  private registeredOnce = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private attempts = 0;

  constructor(private readonly options: ConsulRegistrationOptions) {
    this.client = new ConsulClient(resolveConsulConnection(options.config));
    this.serviceId = options.config.serviceId ?? `${options.config.service}-${options.serverId}`;
  }

  get id(): string {
    return this.serviceId;
  }

  isRegistered(): boolean {
    return this.registeredOnce;
  }

  /** The registration body (exported for tests and the docs). */
  registration(): ConsulServiceRegistration {
    const { config, grpcHost, grpcPort, apiHost, apiPort, serverId } = this.options;
    const advertised = config.advertiseAddress ?? (WILDCARD_HOSTS.has(grpcHost) ? undefined : grpcHost);
    const checkHost = WILDCARD_HOSTS.has(apiHost) ? "127.0.0.1" : apiHost;
    const checkUrl =
      config.checkUrl ??
      `http://${checkHost.includes(":") ? `[${checkHost}]` : checkHost}:${apiPort}/healthz`;
    return {
      ID: this.serviceId,
      Name: config.service,
      Tags: config.tags,
      // Empty: Consul answers with the node's address.
      ...(advertised ? { Address: advertised.replace(/^\[|\]$/g, "") } : {}),
      Port: config.advertisePort ?? grpcPort,
      Meta: { serverId },
      Check: {
        CheckID: `${this.serviceId}:healthz`,
        Name: "vigil-server /healthz",
        HTTP: checkUrl,
        Interval: `${config.checkIntervalMs}ms`,
        Timeout: `${config.checkTimeoutMs}ms`,
        DeregisterCriticalServiceAfter: `${config.deregisterCriticalAfterMs}ms`,
      },
    };
  }

  /** First attempt now; on failure, retries in the background. Never throws. */
  async start(): Promise<void> {
    await this.attempt();
  }

  /** Deregisters (if registered) and stops retrying. Never throws. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    if (this.registeredOnce) {
      try {
        await this.client.deregisterService(this.serviceId);
        this.options.logger.info({ serviceId: this.serviceId }, "deregistered from Consul");
      } catch (error) {
        this.options.logger.warn(
          { serviceId: this.serviceId, error: messageOf(error) },
          "Consul deregistration failed (the critical check will remove the instance)",
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
      this.options.logger.info(
        { serviceId: this.serviceId, service: body.Name, port: body.Port, check: body.Check?.HTTP },
        "registered in Consul",
      );
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
}

function messageOf(error: unknown): string {
  return isVigilError(error) || error instanceof Error ? error.message : String(error);
}
