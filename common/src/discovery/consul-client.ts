import { readFileSync } from "node:fs";
import { Agent, type Dispatcher, fetch } from "undici";
import { ErrorCodes, VigilError } from "../errors";
import type { ConsulConnection } from "./consul-config";
import type { ConsulCheckStatus, ConsulServiceEntry, ConsulServiceRegistration } from "./consul-types";

export interface HealthServiceQuery {
  service: string;
  /** Only instances whose node and service checks all pass (`passing`). */
  passing?: boolean;
  /** Instances carrying every one of these tags. */
  tags?: readonly string[];
  /** Blocking query: wait for a change after this X-Consul-Index (0: answer at once). */
  index?: number;
  /** Longest the server holds a blocking query (Consul caps at 10 min, adds up to wait/16). */
  waitMs?: number;
  signal?: AbortSignal;
}

export interface HealthServiceResult {
  entries: ConsulServiceEntry[];
  /** X-Consul-Index as sent (0 when absent or not a number). */
  index: number;
  knownLeader: boolean;
}

/** An HTTP error answer from Consul. */
export class ConsulHttpError extends VigilError {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(ErrorCodes.DISCOVERY, message);
  }
}

/** Beyond the blocking wait (and Consul's wait/16 jitter), how long a request may take. */
const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;

/**
 * The few Consul HTTP API calls Vigil makes, on undici's fetch. The ACL token
 * goes in X-Consul-Token and never into a URL, a log line or an error message.
 */
export class ConsulClient {
  private readonly dispatcher: Dispatcher | undefined;

  constructor(
    private readonly connection: ConsulConnection,
    private readonly requestTimeoutMs = DEFAULT_REQUEST_TIMEOUT_MS,
  ) {
    this.dispatcher = connection.caFile
      ? new Agent({ connect: { ca: readFileSync(connection.caFile) } })
      : undefined;
  }

  get address(): string {
    return this.connection.address;
  }

  /** GET /v1/health/service/:service — a blocking query when `index` > 0. */
  async healthService(query: HealthServiceQuery): Promise<HealthServiceResult> {
    const params = new URLSearchParams();
    if (query.passing) params.set("passing", "true");
    for (const tag of query.tags ?? []) params.append("tag", tag);
    if (this.connection.datacenter) params.set("dc", this.connection.datacenter);
    const waitMs = query.waitMs ?? 0;
    if (query.index && query.index > 0) {
      params.set("index", String(query.index));
      if (waitMs > 0) params.set("wait", `${waitMs}ms`);
    }
    const timeoutMs = waitMs + Math.ceil(waitMs / 16) + this.requestTimeoutMs;
    const response = await this.request(
      "GET",
      `/v1/health/service/${encodeURIComponent(query.service)}?${params}`,
      undefined,
      timeoutMs,
      query.signal,
    );
    const entries = (await response.json()) as ConsulServiceEntry[] | null;
    if (entries !== null && !Array.isArray(entries)) {
      throw new VigilError(ErrorCodes.DISCOVERY, `consul ${this.address}: health answer is not a list`);
    }
    const index = Number(response.headers.get("x-consul-index"));
    return {
      entries: entries ?? [],
      index: Number.isFinite(index) && index > 0 ? Math.floor(index) : 0,
      knownLeader: response.headers.get("x-consul-knownleader") === "true",
    };
  }

  /** PUT /v1/agent/service/register on the local Consul agent. */
  async registerService(registration: ConsulServiceRegistration, signal?: AbortSignal): Promise<void> {
    const response = await this.request(
      "PUT",
      "/v1/agent/service/register",
      JSON.stringify(registration),
      this.requestTimeoutMs,
      signal,
    );
    await response.arrayBuffer();
  }

  /** PUT /v1/agent/service/deregister/:id. */
  async deregisterService(serviceId: string, signal?: AbortSignal): Promise<void> {
    const response = await this.request(
      "PUT",
      `/v1/agent/service/deregister/${encodeURIComponent(serviceId)}`,
      undefined,
      this.requestTimeoutMs,
      signal,
    );
    await response.arrayBuffer();
  }

  /** PUT /v1/agent/check/update/:id — sets a TTL check's status. */
  async updateTtlCheck(checkId: string, status: ConsulCheckStatus, output = ""): Promise<void> {
    const response = await this.request(
      "PUT",
      `/v1/agent/check/update/${encodeURIComponent(checkId)}`,
      JSON.stringify({ Status: status, Output: output }),
      this.requestTimeoutMs,
      undefined,
    );
    await response.arrayBuffer();
  }

  async close(): Promise<void> {
    await this.dispatcher?.close();
  }

  private async request(
    method: string,
    path: string,
    body: string | undefined,
    timeoutMs: number,
    signal: AbortSignal | undefined,
  ) {
    const headers: Record<string, string> = { accept: "application/json" };
    if (body !== undefined) headers["content-type"] = "application/json";
    if (this.connection.token) headers["x-consul-token"] = this.connection.token;
    const timeout = AbortSignal.timeout(timeoutMs);
    const where = `consul ${method} ${this.address}${path.split("?")[0]}`;
    let response: Awaited<ReturnType<typeof fetch>>;
    try {
      response = await fetch(this.address + path, {
        method,
        headers,
        body,
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
        dispatcher: this.dispatcher,
      });
    } catch (cause) {
      const reason = timeout.aborted ? `no answer within ${timeoutMs} ms` : describeCause(cause);
      throw new VigilError(ErrorCodes.DISCOVERY, `${where}: ${reason}`, { cause });
    }
    if (!response.ok) {
      const text = (await response.text().catch(() => "")).trim().slice(0, 300);
      throw new ConsulHttpError(
        `${where}: HTTP ${response.status}${text ? `: ${text}` : ""}`,
        response.status,
      );
    }
    return response;
  }
}

function describeCause(cause: unknown): string {
  if (!(cause instanceof Error)) return String(cause);
  const inner = (cause as Error & { cause?: unknown }).cause;
  return inner instanceof Error ? `${cause.message} (${inner.message})` : cause.message;
}
